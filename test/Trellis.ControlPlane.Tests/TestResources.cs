using Trellis.Api;

namespace Trellis.ControlPlane.Tests;

/// <summary>Builds resources from YAML the way users write them, and finds the shared conformance data.</summary>
internal static class TestResources
{
    public static IReadOnlyList<Resource> Read(string yaml)
    {
        var read = ResourceReader.Read(yaml, "test.yaml");
        Assert.False(read.HasErrors, string.Join("\n", read.Diagnostics));
        return read.Resources;
    }

    public static Resource One(string yaml) => Read(yaml).Single();

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Trellis.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Trellis.slnx not found above the test binaries");
    }

    public static string Conformance(string relative) =>
        Path.GetFullPath(Path.Combine(RepoRoot(), "..", "shared", "conformance", relative));

    public static string VirtualService(string name, string host, string subset) => $"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {"{"}name: {name}{"}"}
        spec:
          hosts: [{host}]
          http:
          - route:
            - destination: {"{"}host: {host}, subset: {subset}{"}"}
        """;

    public const string ReviewsService = """
        apiVersion: v1
        kind: Service
        metadata: {name: reviews, labels: {app: reviews}}
        spec:
          selector: {app: reviews}
          ports: [{port: 9080, name: http}]
        """;

    public const string ReviewsRule = """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews}
        spec:
          host: reviews
          subsets:
          - {name: v1, labels: {version: v1}}
          - {name: v2, labels: {version: v2}}
          - {name: v3, labels: {version: v3}}
        """;
}
