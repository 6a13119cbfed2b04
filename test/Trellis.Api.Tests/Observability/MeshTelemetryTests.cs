using Trellis.Api.Networking;
using Trellis.Api.Observability;
using Trellis.Api.Snapshots;

namespace Trellis.Api.Tests.Observability;

/// <summary>The telemetry keys of Istio's mesh configuration, read as istiod reads them, with the key named on error.</summary>
public sealed class MeshTelemetryTests
{
    [Fact]
    public void Parse_AllKeys_Read()
    {
        var (config, error) = MeshConfig.Parse("""
            accessLogFile: /dev/stdout
            accessLogEncoding: JSON
            accessLogFormat: "%REQ(:METHOD)% %RESPONSE_CODE%"
            enableTracing: true
            defaultConfig:
              tracing: {sampling: 25.5}
            defaultProviders:
              tracing: [otel]
              accessLogging: [envoy]
            extensionProviders:
            - name: otel
              opentelemetry: {service: collector.observability.svc.cluster.local, port: 4318, http: {path: v1/traces}}
            - name: zipkin
              zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}
            outboundTrafficPolicy: {mode: REGISTRY_ONLY}
            """);

        Assert.Null(error);
        var telemetry = config!.Telemetry;
        Assert.Equal(OutboundMode.RegistryOnly, config.OutboundTrafficPolicy);
        Assert.Equal(("/dev/stdout", AccessLogEncoding.Json, "%REQ(:METHOD)% %RESPONSE_CODE%"), (telemetry.AccessLogFile, telemetry.AccessLogEncoding, telemetry.AccessLogFormat));
        Assert.Equal(25.5, telemetry.DefaultSampling);
        Assert.Equal(["otel"], telemetry.DefaultTracing);
        Assert.Equal(["prometheus"], telemetry.DefaultMetrics);
        Assert.Equal(new OpenTelemetryProvider("otel", "collector.observability.svc.cluster.local", 4318, "/v1/traces"), telemetry.Provider("otel"));
        Assert.Equal(new UnsupportedProvider("zipkin", "zipkin"), telemetry.Provider("zipkin"));
        Assert.IsType<FileAccessLogProvider>(telemetry.Provider("envoy")); // built in
    }

    [Theory]
    [InlineData("accessLogEncoding: XML", "accessLogEncoding: \"XML\" is not TEXT or JSON")]
    [InlineData("accessLogFormat: '%DURATION'", "accessLogFormat: unterminated command operator")]
    [InlineData("defaultConfig: {tracing: {sampling: 200}}", "defaultConfig.tracing.sampling: \"200\" is not a percentage")]
    [InlineData("extensionProviders: [{name: a, prometheus: {}}, {name: a, prometheus: {}}]", "extensionProviders[1].name: \"a\" is defined twice")]
    [InlineData("extensionProviders: [{name: f, envoyFileAccessLog: {path: /x, logFormat: {text: '%NOPE%'}}}]", "extensionProviders[0].envoyFileAccessLog.logFormat.text: unknown command operator %NOPE%")]
    [InlineData("extensionProviders: [{name: o, opentelemetry: {service: c, port: 70000}}]", "extensionProviders[0].opentelemetry.port: \"70000\" is not a port number")]
    [InlineData("extensionProviders: [{prometheus: {}}]", "extensionProviders[0].name is required")]
    public void Parse_BadValue_ErrorNamesTheKey(string yaml, string expected)
    {
        var (config, error) = MeshConfig.Parse(yaml);

        Assert.Null(config);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }
}
