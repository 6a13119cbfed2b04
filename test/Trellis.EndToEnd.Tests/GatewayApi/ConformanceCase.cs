namespace Trellis.EndToEnd.Tests.GatewayApi;

/// <summary>
/// One upstream conformance test (kubernetes-sigs/gateway-api conformance/tests/*.go), transcribed: its short name,
/// profile (GATEWAY-HTTP or MESH-HTTP), support level, the manifests it applies and what it asserts.
/// <paramref name="Gap"/>: why Trellis does not pass it yet; such a case runs only for the report
/// (scripts/gateway-api-conformance), so the test suite stays green while the report stays honest. A null
/// <paramref name="Run"/>: the assertions are not transcribed (the feature is missing); the report lists it as skipped.
/// </summary>
public sealed record ConformanceCase(string Name, string Profile, string Support, IReadOnlyList<string> Manifests, Func<ConformanceRun, Task>? Run, string? Gap = null)
{
    public const string Gateway = "GATEWAY-HTTP";
    public const string Mesh = "MESH-HTTP";
    public const string Core = "Core";
    public const string Extended = "Extended";

    public override string ToString() => Name;
}
