using Trellis.Api.Snapshots;
using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>
/// The Telemetry API's <c>metrics[].overrides</c> merged per listener as istiod merges them: mesh, then namespace, then
/// workload, in order; per metric and per side (<c>match.mode</c>); <c>ALL_METRICS</c> disabling a side and a later
/// override enabling it again; tag operations accumulating by name.
/// </summary>
public sealed class MetricOverridesCompilerTests
{
    private const string Outbound = "productpage-1/outbound";
    private const string ProductpageInbound = "productpage-1/inbound";
    private const string ReviewsInbound = "reviews-1/inbound";

    private static string Telemetry(string name, string ns, string spec, string? selector = null) => $$"""
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: {{name}}, namespace: {{ns}}}
        spec:
        {{(selector is null ? "" : $"  selector: {{matchLabels: {{app: {selector}}}}}\n")}}  metrics:
        {{string.Join('\n', spec.Split('\n').Select(l => "  " + l))}}
        """;

    private static ProxySnapshot CompileAll(params string[] documents) => Compile(string.Join("\n---\n", documents));

    private static ListenerTelemetryConfig? Of(ProxySnapshot snapshot, string listener) => snapshot.Listeners.Single(l => l.Name == listener).Telemetry;

    private static MetricOverrideConfig? Metric(ProxySnapshot snapshot, string listener, StandardMetric metric) =>
        Of(snapshot, listener)?.MetricOverrides?.SingleOrDefault(m => m.Metric == metric);

    [Fact]
    public void Compile_OneMetricDisabledForClients_OnlyClientListenersDropIt()
    {
        var snapshot = Compile(Telemetry("mesh-default", "istio-system", """
            - providers: [{name: prometheus}]
              overrides:
              - match: {metric: REQUEST_COUNT, mode: CLIENT}
                disabled: true
            """));

        Assert.Equal(new MetricOverrideConfig(StandardMetric.RequestCount, Disabled: true), Metric(snapshot, Outbound, StandardMetric.RequestCount));
        Assert.True(Of(snapshot, Outbound)!.Metrics);
        Assert.Single(Of(snapshot, Outbound)!.MetricOverrides!);
        Assert.Null(Of(snapshot, ReviewsInbound)); // the server side keeps Istio's defaults
    }

    [Fact]
    public void Compile_TagOverridesOnEveryLevel_AccumulateByNameMoreSpecificLast()
    {
        var snapshot = CompileAll(
            Telemetry("mesh-default", "istio-system", """
                - overrides:
                  - tagOverrides:
                      request_host: {value: request.host}
                      grpc_response_status: {operation: REMOVE}
                """),
            Telemetry("namespace", "default", """
                - overrides:
                  - match: {metric: REQUEST_COUNT}
                    tagOverrides:
                      request_host: {value: "'hidden'"}
                      request_method: {value: request.method}
                """),
            Telemetry("reviews", "default", """
                - overrides:
                  - match: {metric: REQUEST_COUNT, mode: SERVER}
                    tagOverrides:
                      grpc_response_status: {value: "string(response.grpc_status)"}
                """, selector: "reviews"));

        Assert.Equal(
            [new("grpc_response_status", null), new("request_host", "'hidden'"), new("request_method", "request.method")],
            Metric(snapshot, Outbound, StandardMetric.RequestCount)!.Tags!);
        Assert.Equal(
            [new("grpc_response_status", null), new("request_host", "request.host")],
            Metric(snapshot, Outbound, StandardMetric.RequestDuration)!.Tags!);
        Assert.Equal(
            [new("grpc_response_status", "string(response.grpc_status)"), new("request_host", "'hidden'"), new("request_method", "request.method")],
            Metric(snapshot, ReviewsInbound, StandardMetric.RequestCount)!.Tags!);
        Assert.Equal(
            [new("grpc_response_status", null), new("request_host", "'hidden'"), new("request_method", "request.method")],
            Metric(snapshot, ProductpageInbound, StandardMetric.RequestCount)!.Tags!);
        Assert.Equal(8, Of(snapshot, Outbound)!.MetricOverrides!.Count); // no match: every standard metric, TCP ones too
    }

    [Fact]
    public void Compile_MeshDisablesAll_NamespaceOverrideEnablesAgain()
    {
        var meshOff = Telemetry("mesh-default", "istio-system", """
            - overrides:
              - match: {metric: ALL_METRICS}
                disabled: true
            """);

        var off = Compile(meshOff);
        var on = CompileAll(meshOff, Telemetry("namespace", "default", """
            - overrides:
              - match: {metric: REQUEST_DURATION, mode: SERVER}
                disabled: true
            """));

        Assert.All(off.Listeners, l => Assert.False(l.Telemetry!.Metrics));
        Assert.False(Of(on, Outbound)!.Metrics); // the namespace's override speaks for the server side only
        Assert.True(Of(on, ReviewsInbound)!.Metrics);
        Assert.Equal([new MetricOverrideConfig(StandardMetric.RequestDuration, Disabled: true)], Of(on, ReviewsInbound)!.MetricOverrides!);
    }

    [Fact]
    public void Compile_WorkloadReenablesExplicitly_DisabledFalseWins()
    {
        var snapshot = CompileAll(
            Telemetry("mesh-default", "istio-system", """
                - overrides:
                  - match: {metric: REQUEST_SIZE}
                    disabled: true
                  - match: {metric: RESPONSE_SIZE}
                    disabled: true
                """),
            Telemetry("reviews", "default", """
                - overrides:
                  - match: {metric: REQUEST_SIZE}
                    disabled: false
                  - match: {metric: RESPONSE_SIZE}
                    tagOverrides: {response_flags: {operation: REMOVE}}
                """, selector: "reviews"));

        Assert.True(Metric(snapshot, Outbound, StandardMetric.RequestSize)!.Disabled);
        Assert.Null(Metric(snapshot, ReviewsInbound, StandardMetric.RequestSize)); // back to Istio's default
        var response = Metric(snapshot, ReviewsInbound, StandardMetric.ResponseSize)!;
        Assert.True(response.Disabled); // tags alone do not re-enable it: disabled must be written false
        Assert.Equal([new TagOverrideConfig("response_flags", null)], response.Tags!);
    }

    [Fact]
    public void Compile_OverridesForAnotherProvider_Ignored()
    {
        var snapshot = Compile(Telemetry("mesh-default", "istio-system", """
            - providers: [{name: stackdriver}]
              overrides:
              - match: {metric: REQUEST_COUNT}
                disabled: true
            - providers: [{name: prometheus}]
            """));

        Assert.All(snapshot.Listeners, l => Assert.Null(l.Telemetry));
    }
}
