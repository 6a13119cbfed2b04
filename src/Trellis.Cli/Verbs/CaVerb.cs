using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Trellis.Api.Identity;
using Trellis.Api.Snapshots;
using Trellis.Cli.Client;
using Trellis.Cli.Output;

namespace Trellis.Cli.Verbs;

/// <summary>
/// <c>ca status</c>: the CA's roots with their expiry, and which workload certificates are held by which node under which
/// root. <c>ca rotate</c>: begins a root rotation (docs/security.md), then shows the same.
/// </summary>
public static class CaVerb
{
    public static Command Create()
    {
        var status = new Command("status", "The CA's roots, their expiry, and the workload certificates issued (which root each chains to)");
        status.SetAction((parse, ct) => Common.RunAsync(parse, client => ShowAsync(client, HttpMethod.Get, "/ca/v1/status", ct)));
        var rotate = new Command("rotate", "Begin a root rotation: a new root signs from now on, both roots are trusted until no certificate from the old one is in use");
        rotate.SetAction((parse, ct) => Common.RunAsync(parse, client => ShowAsync(client, HttpMethod.Post, "/ca/v1/rotate", ct)));
        return new Command("ca", "The mesh's certificate authority") { status, rotate };
    }

    private static async Task<int> ShowAsync(ControlPlaneClient client, HttpMethod method, string path, CancellationToken ct)
    {
        var response = await client.SendAsync(method, path, null, ct);
        if (!response.Ok)
        {
            throw new ApiException(response.Status, response.Message);
        }

        var view = JsonSerializer.Deserialize<CaStatus>(response.Text, WireJson.Options)!;
        Console.WriteLine($"Trust domain {view.TrustDomain}, workload certificates live {view.Lifetime}, CA files in {view.Source}");
        if (view.RotationDropBy is { } dropBy)
        {
            Console.WriteLine($"Root rotation under way: the old root is trusted until no certificate from it is in use, {Time(dropBy)} at the latest");
        }

        Console.WriteLine();
        Console.Write(Table.Render(
            ["ROOT", "FINGERPRINT (SHA-256)", "NOT AFTER", "SIGNING"],
            view.Roots.Select(r => (IReadOnlyList<string>)[r.Subject, r.Fingerprint[..16], Time(r.NotAfter), r.Signing ? "yes" : "no"])));
        if (view.Roots.FirstOrDefault(r => r.Signing)?.KeyPin is { } pin)
        {
            Console.WriteLine($"Agents and proxies pin this CA with: --ca-cert-hash {pin}");
        }

        Console.WriteLine();
        if (view.Workloads.Count == 0)
        {
            Console.WriteLine("No certificates issued yet (agents join with --token).");
            return ExitCodes.Ok;
        }

        var signing = view.Roots.FirstOrDefault(r => r.Signing)?.Fingerprint;
        Console.Write(Table.Render(
            ["IDENTITY", "NODE", "NOT AFTER", "ROOT"],
            view.Workloads.Select(w => (IReadOnlyList<string>)[w.Identity, w.Node, Time(w.NotAfter), w.RootFingerprint == signing ? "current" : "old " + w.RootFingerprint[..16]])));
        return ExitCodes.Ok;
    }

    private static string Time(DateTimeOffset at) => at.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
