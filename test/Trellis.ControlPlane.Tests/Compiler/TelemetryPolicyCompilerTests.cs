using Trellis.Api.Snapshots;
using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>
/// The Telemetry API and the mesh configuration's telemetry keys, resolved per listener as istiod does: mesh, namespace,
/// workload; client and server sides; the legacy accessLogFile when no Telemetry speaks of access logs.
/// </summary>
public sealed class TelemetryPolicyCompilerTests
{
    private const string Outbound = "productpage-1/outbound";
    private const string ReviewsInbound = "reviews-1/inbound";

    private static string Mesh(string mesh) => $$"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: istio, namespace: istio-system}
        data:
          mesh: |
        {{string.Join('\n', mesh.Split('\n').Select(l => "    " + l))}}
        """;

    private const string MeshEnvoyLogs = """
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata: {name: mesh-default, namespace: istio-system}
        spec:
          accessLogging:
          - providers: [{name: envoy}]
        """;

    private static ListenerTelemetryConfig? Of(ProxySnapshot snapshot, string listener) => snapshot.Listeners.Single(l => l.Name == listener).Telemetry;

    [Fact]
    public void Compile_NothingConfigured_DefaultsLeftOut()
    {
        var snapshot = Compile("");

        Assert.All(snapshot.Listeners, l => Assert.Null(l.Telemetry));
    }

    [Fact]
    public void Compile_MeshAccessLogFile_EveryListenerLogsWithTheMeshEncodingAndFormat()
    {
        var snapshot = Compile(Mesh("accessLogFile: /var/log/mesh.log\naccessLogEncoding: JSON"));

        Assert.All(snapshot.Listeners, l => Assert.Equal([new AccessLogConfig("/var/log/mesh.log", AccessLogEncoding.Json)], l.Telemetry!.AccessLogs!));
    }

    [Fact]
    public void Compile_EnvoyProviderMeshWide_NamespaceDisablesWorkloadEnablesWithFilter()
    {
        var snapshot = Compile(MeshEnvoyLogs + """

            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: quiet, namespace: default}
            spec:
              accessLogging:
              - disabled: true
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: reviews-errors, namespace: default}
            spec:
              selector: {matchLabels: {app: reviews}}
              accessLogging:
              - providers: [{name: envoy}]
                filter: {expression: "response.code >= 500"}
            """);

        Assert.Null(Of(snapshot, Outbound));
        Assert.Equal([new AccessLogConfig("/dev/stdout", Filter: "response.code >= 500")], Of(snapshot, ReviewsInbound)!.AccessLogs!);
    }

    [Fact]
    public void Compile_ClientModeOnly_OutboundAndGatewayListenersLog()
    {
        const string clientOnly = """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              accessLogging:
              - match: {mode: CLIENT}
                providers: [{name: envoy}]
            """;
        var snapshot = Compile(clientOnly);
        var gateway = Compile(IngressGateway + "\n---\n" + clientOnly, Gateway);

        Assert.NotNull(Of(snapshot, Outbound)!.AccessLogs);
        Assert.Null(Of(snapshot, ReviewsInbound));
        Assert.All(gateway.Listeners, l => Assert.Single(l.Telemetry!.AccessLogs!));
    }

    [Fact]
    public void Compile_FileProviderWithJsonLabels_LogsThoseKeys()
    {
        var snapshot = Compile(Mesh("""
            extensionProviders:
            - name: json-file
              envoyFileAccessLog:
                path: /tmp/json.log
                logFormat:
                  labels: {code: "%RESPONSE_CODE%", path: "%REQ(:PATH)%"}
            defaultProviders:
              accessLogging: [json-file]
            """));

        var log = Assert.Single(Of(snapshot, Outbound)!.AccessLogs!);
        Assert.Equal("/tmp/json.log", log.Path);
        Assert.Equal(AccessLogEncoding.Json, log.Encoding);
        Assert.Equal(new Dictionary<string, string> { ["code"] = "%RESPONSE_CODE%", ["path"] = "%REQ(:PATH)%" }, log.JsonFields);
    }

    [Fact]
    public void Compile_MetricsDisabledForAWorkload_OnlyItsListenersStopCounting()
    {
        var snapshot = Compile("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: no-metrics, namespace: default}
            spec:
              selector: {matchLabels: {app: productpage}}
              metrics:
              - providers: [{name: prometheus}]
                overrides: [{disabled: true}]
            """);

        Assert.False(Of(snapshot, Outbound)!.Metrics);
        Assert.Null(Of(snapshot, ReviewsInbound));
    }

    [Fact]
    public void Compile_TracingProviderAndSampling_EndpointFromExtensionProvider()
    {
        var snapshot = Compile(Mesh("""
            extensionProviders:
            - name: otel
              opentelemetry: {service: 127.0.0.1, port: 4318, http: {path: /v1/traces}}
            - name: otel-grpc
              opentelemetry: {service: collector.observability.svc.cluster.local, port: 4317}
            """) + """

            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              tracing:
              - providers: [{name: otel}]
                randomSamplingPercentage: 100
                customTags: {team: {literal: {value: books}}}
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: reviews, namespace: default}
            spec:
              selector: {matchLabels: {app: reviews}}
              tracing:
              - providers: [{name: otel-grpc}]
            """);

        var outbound = Of(snapshot, Outbound)!.Tracing!;
        Assert.Equal((100.0, "http://127.0.0.1:4318/v1/traces", OtlpProtocol.HttpProtobuf), (outbound.SamplingPercentage, outbound.Endpoint, outbound.Protocol));
        Assert.Equal("books", outbound.CustomTags!["team"]);
        var reviews = Of(snapshot, ReviewsInbound)!.Tracing!;
        // The workload's provider replaces the mesh's; its sampling is inherited.
        Assert.Equal((100.0, "http://collector.observability.svc.cluster.local:4317", OtlpProtocol.Grpc), (reviews.SamplingPercentage, reviews.Endpoint, reviews.Protocol));
    }

    [Fact]
    public void Compile_HeaderAndEnvironmentTagsAndDisabledReporting_Resolved()
    {
        var snapshot = Compile(Mesh("""
            extensionProviders:
            - name: otel
              opentelemetry: {service: 127.0.0.1, port: 4317}
            defaultProviders:
              tracing: [otel]
            """) + """

            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              tracing:
              - customTags:
                  user: {header: {name: X-User, defaultValue: anonymous}}
                  pod: {environment: {name: POD_NAME}}
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: quiet, namespace: default}
            spec:
              selector: {matchLabels: {app: reviews}}
              tracing:
              - disableSpanReporting: true
            """);

        var outbound = Of(snapshot, Outbound)!.Tracing!;
        Assert.Equal("http://127.0.0.1:4317", outbound.Endpoint);
        Assert.Equal(OtlpProtocol.Grpc, outbound.Protocol);
        Assert.Equal(new CustomTagSource("x-user", "anonymous"), outbound.HeaderTags!["user"]);
        Assert.Equal(new CustomTagSource("POD_NAME"), outbound.EnvironmentTags!["pod"]);
        Assert.Null(Of(snapshot, ReviewsInbound)!.Tracing!.Endpoint); // sampled and propagated, not reported
    }
}
