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

    [Fact]
    public void Parse_EnvoyExtAuthzHttp_FieldsAndIstioDefaults()
    {
        var (config, error) = MeshConfig.Parse("""
            extensionProviders:
            - name: full
              envoyExtAuthzHttp:
                service: ext-authz.foo.svc.cluster.local
                port: "8000"
                timeout: 250ms
                pathPrefix: /check/
                failOpen: true
                statusOnError: "503"
                includeRequestHeadersInCheck: [x-ext-authz]
                includeAdditionalHeadersInCheck: {x-from: trellis}
                headersToUpstreamOnAllow: [x-ext-authz-check-*]
                headersToDownstreamOnDeny: [x-ext-authz-check-result]
            - name: bare
              envoyExtAuthzHttp: {service: 127.0.0.1, port: 9000}
            """);

        Assert.Null(error);
        var full = Assert.IsType<Trellis.Api.Security.ExtAuthzHttpProvider>(config!.Telemetry.Provider("full"));
        Assert.Equal((8000, TimeSpan.FromMilliseconds(250), "/check", true, 503), (full.Port, full.Timeout, full.PathPrefix, full.FailOpen, full.StatusOnError));
        Assert.Equal(["x-ext-authz"], full.IncludeRequestHeadersInCheck);
        Assert.Equal(["x-ext-authz-check-*"], full.HeadersToUpstreamOnAllow);
        Assert.Equal(["x-ext-authz-check-result"], full.HeadersToDownstreamOnDeny);
        Assert.Equal("trellis", full.IncludeAdditionalHeadersInCheck["x-from"]);
        var bare = Assert.IsType<Trellis.Api.Security.ExtAuthzHttpProvider>(config.Telemetry.Provider("bare"));
        Assert.Equal((TimeSpan.FromMinutes(10), "", false, 403), (bare.Timeout, bare.PathPrefix, bare.FailOpen, bare.StatusOnError));
    }

    [Fact]
    public void Parse_IstiosExtAuthzFieldsWithoutBehaviour_AcceptedAndNamed()
    {
        var (config, error) = MeshConfig.Parse("""
            extensionProviders:
            - name: plain
              envoyExtAuthzHttp: {service: a, port: 80}
            - name: body
              envoyExtAuthzHttp: {service: a, port: 80, includeRequestBodyInCheck: {maxRequestBytes: 10}, headersToDownstreamOnAllow: [x-a], clearRouteCache: true}
            """);

        Assert.Null(error);
        Assert.Equal(
            ["extensionProviders[1].envoyExtAuthzHttp.includeRequestBodyInCheck", "extensionProviders[1].envoyExtAuthzHttp.headersToDownstreamOnAllow", "extensionProviders[1].envoyExtAuthzHttp.clearRouteCache"],
            config!.NotEnforced().Select(n => n.Path));
    }

    [Theory]
    [InlineData("accessLogEncoding: XML", "accessLogEncoding: \"XML\" is not TEXT or JSON")]
    [InlineData("accessLogFormat: '%DURATION'", "accessLogFormat: unterminated command operator")]
    [InlineData("defaultConfig: {tracing: {sampling: 200}}", "defaultConfig.tracing.sampling: \"200\" is not a percentage")]
    [InlineData("extensionProviders: [{name: a, prometheus: {}}, {name: a, prometheus: {}}]", "extensionProviders[1].name: \"a\" is defined twice")]
    [InlineData("extensionProviders: [{name: f, envoyFileAccessLog: {path: /x, logFormat: {text: '%NOPE%'}}}]", "extensionProviders[0].envoyFileAccessLog.logFormat.text: unknown command operator %NOPE%")]
    [InlineData("extensionProviders: [{name: o, opentelemetry: {service: c, port: 70000}}]", "extensionProviders[0].opentelemetry.port: \"70000\" is not a port number")]
    [InlineData("extensionProviders: [{prometheus: {}}]", "extensionProviders[0].name is required")]
    [InlineData("extensionProviders: [{name: x, envoyExtAuthzHttp: {port: 80}}]", "extensionProviders[0].envoyExtAuthzHttp.service is required")]
    [InlineData("extensionProviders: [{name: x, envoyExtAuthzHttp: {service: a, port: http}}]", "extensionProviders[0].envoyExtAuthzHttp.port: \"http\" is not a port number")]
    [InlineData("extensionProviders: [{name: x, envoyExtAuthzHttp: {service: a, port: 80, timeout: soon}}]", "extensionProviders[0].envoyExtAuthzHttp.timeout: \"soon\" is not a positive duration")]
    [InlineData("extensionProviders: [{name: x, envoyExtAuthzHttp: {service: a, port: 80, includeRequestBody: {maxRequestBytes: 10}}}]", "extensionProviders[0].envoyExtAuthzHttp.includeRequestBody: not supported")]
    public void Parse_BadValue_ErrorNamesTheKey(string yaml, string expected)
    {
        var (config, error) = MeshConfig.Parse(yaml);

        Assert.Null(config);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }
}
