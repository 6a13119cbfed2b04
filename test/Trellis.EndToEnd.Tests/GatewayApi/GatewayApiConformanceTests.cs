using System.Globalization;

namespace Trellis.EndToEnd.Tests.GatewayApi;

/// <summary>
/// The Gateway API conformance harness: each case applies its upstream manifests to one running <c>trellis up</c>
/// (see <see cref="ConformanceMesh"/>), checks what the upstream test asserts, and deletes them again. Cases with a
/// known gap run only when <c>TRELLIS_CONFORMANCE_ALL=1</c> (the report run); with
/// <c>TRELLIS_CONFORMANCE_RESULTS=FILE</c> each outcome is appended to FILE for scripts/gateway-api-conformance.
/// </summary>
public sealed class GatewayApiConformanceTests(ConformanceMesh mesh) : IClassFixture<ConformanceMesh>
{
    private static readonly bool All = Environment.GetEnvironmentVariable("TRELLIS_CONFORMANCE_ALL") == "1";

    public static IReadOnlyList<ConformanceCase> Cases { get; } = [.. GatewayCases.All, .. MeshCases.All];

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases.Where(c => All || c.Gap is null))
        {
            data.Add(c.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Conformance(string name)
    {
        var @case = Cases.Single(c => c.Name == name);
        if (@case.Run is null)
        {
            Record(@case, "skip", @case.Gap ?? "");
            return; // only listed in the report run
        }

        var manifests = new List<string>();
        foreach (var file in @case.Manifests)
        {
            manifests.Add(ConformanceMesh.Prepare(await File.ReadAllTextAsync(TrellisBinary.Conformance("gateway-api/tests/" + file))));
        }

        string? failure = null;
        try
        {
            foreach (var yaml in manifests)
            {
                await mesh.Api.ApplyAsync(yaml);
            }

            using var run = new ConformanceRun(mesh);
            await @case.Run(run);
        }
        catch (Exception e)
        {
            failure = e.Message.Split('\n')[0];
            throw;
        }
        finally
        {
            foreach (var yaml in manifests)
            {
                await mesh.Api.DeleteAsync(yaml);
            }

            Record(@case, failure is null ? "pass" : "fail", failure is null ? "" : @case.Gap is null ? failure : $"{@case.Gap} ({failure})");
        }
    }

    private static void Record(ConformanceCase @case, string outcome, string note)
    {
        if (Environment.GetEnvironmentVariable("TRELLIS_CONFORMANCE_RESULTS") is not { Length: > 0 } file)
        {
            return;
        }

        File.AppendAllText(file, string.Create(CultureInfo.InvariantCulture, $"{@case.Name}\t{@case.Profile}\t{@case.Support}\t{outcome}\t{note.Replace('\t', ' ').Replace('|', '/')}\n"));
    }
}
