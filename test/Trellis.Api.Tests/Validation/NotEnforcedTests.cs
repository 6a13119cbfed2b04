using Trellis.Api.Diagnostics;
using Trellis.Api.Validation;

namespace Trellis.Api.Tests.Validation;

public sealed class NotEnforcedTests
{
    public static TheoryData<string> Patterns()
    {
        var data = new TheoryData<string>();
        foreach (var entry in NotEnforced.Entries)
        {
            data.Add($"{entry.Group}|{entry.Kind}|{entry.Pattern}");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Patterns))]
    public void Entries_EachPattern_NamesFieldsOfItsKind(string key)
    {
        var entry = NotEnforced.Entries.First(e => $"{e.Group}|{e.Kind}|{e.Pattern}" == key);

        Assert.Null(NotEnforced.Problem(entry));
    }

    [Fact]
    public void Problem_MisspelledField_IsFound()
    {
        Assert.NotNull(NotEnforced.Problem(new("networking.istio.io", "VirtualService", "spec.http[*].faults", "x")));
        Assert.NotNull(NotEnforced.Problem(new("networking.istio.io", "VirtualService", "spec.http.fault", "x")));
        Assert.NotNull(NotEnforced.Problem(new("networking.istio.io", "VirtualService", "spec.hosts[*].x", "x")));
    }

    [Fact]
    public void Read_MeshConfigExtAuthzFieldWithoutBehaviour_WarnsAndKeepsTheConfigMap()
    {
        var result = ResourceReader.Read("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data:
              mesh: |
                extensionProviders:
                - name: ext-authz
                  envoyExtAuthzHttp: {service: 127.0.0.1, port: 9000, includeRequestBodyInCheck: {maxRequestBytes: 1024}}
            """, "istio.yaml");

        Assert.Single(result.Resources);
        var warning = Assert.Single(result.Diagnostics);
        Assert.Equal((DiagnosticCodes.AcceptedNotEnforced, Severity.Warning, "data.mesh"), (warning.Code, warning.Severity, warning.Path));
        Assert.Equal("accepted, not enforced: extensionProviders[0].envoyExtAuthzHttp.includeRequestBodyInCheck: the check request carries no body", warning.Message);
    }

    [Fact]
    public void Read_FieldWithoutBehaviour_WarnsAtItsLineAndKeepsTheResource()
    {
        var result = ResourceReader.Read("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: ratings}
            spec:
              hosts: [ratings]
              http:
              - route:
                - destination: {host: ratings}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: ratings}
            spec:
              host: ratings
              trafficPolicy:
                loadBalancer: {localityLbSetting: {enabled: true}}
              subsets:
              - name: v1
                labels: {version: v1}
                trafficPolicy:
                  loadBalancer: {simple: RANDOM}
            """, "dr.yaml");

        Assert.Equal(2, result.Resources.Count);
        var warning = Assert.Single(result.Diagnostics);
        Assert.Equal(DiagnosticCodes.AcceptedNotEnforced, warning.Code);
        Assert.Equal(Severity.Warning, warning.Severity);
        Assert.Equal("spec.trafficPolicy.loadBalancer.localityLbSetting", warning.Path);
        Assert.Equal((16, 20), (warning.Line, warning.Column));
        Assert.StartsWith("accepted, not enforced:", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_EventingKinds_WarnOnlyOnFieldsWithoutBehaviour()
    {
        var result = ResourceReader.Read("""
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: default}
            spec: {}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: t}
            spec:
              broker: default
              subscriber: {uri: "http://example.com/", audience: "my-audience"}
            """);

        var warning = Assert.Single(result.Diagnostics);
        Assert.Equal("spec.subscriber.audience", warning.Path);
        Assert.Contains("Trigger", warning.Resource, StringComparison.Ordinal);
        Assert.Equal(2, result.Resources.Count);
    }

    /// <summary>docs/diagnostics.md lists exactly the table's rows, in its order; the failure message is the list to paste.</summary>
    [Fact]
    public void Docs_ListEveryEntry()
    {
        var docs = File.ReadAllText(Path.Combine(Conformance.RepoRoot, "docs", "diagnostics.md"));
        var begin = docs.IndexOf("<!-- not-enforced:begin -->", StringComparison.Ordinal);
        var end = docs.IndexOf("<!-- not-enforced:end -->", StringComparison.Ordinal);
        var listed = docs[begin..end].Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal)).ToList();
        var expected = NotEnforced.Entries.Select(e => $"| `{(e.Group.Length == 0 ? "" : e.Group + "/")}{e.Kind}` | `{e.Pattern}` | {e.Reason} |").ToList();

        Assert.True(expected.SequenceEqual(listed), string.Join("\n", expected));
    }
}
