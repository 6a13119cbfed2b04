using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Security;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;
using Trellis.Proxy.Tests.Pipeline;

namespace Trellis.Proxy.Tests.Security;

/// <summary>
/// AUDIT policies on every engine: the decision is unchanged, the access-log entry of an audited request carries
/// Envoy's <c>access_log_hint</c>, the next request on the same connection does not, and the proxy counts them.
/// </summary>
public sealed class AuditEnginesTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("trellis-audit-");

    public static TheoryData<Engine> Engines() => Pipeline.Engines.All();

    public void Dispose() => _directory.Delete(recursive: true);

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task AuditPolicy_EveryEngine_MarksTheAccessLogEntryOnly(Engine engine)
    {
        var path = Path.Combine(_directory.FullName, "access.log");
        await using var backend = await TestBackend.StartAsync(context => context.Response.WriteAsync("upstream"));
        var policies = new AuthorizationConfig(
        [
            new AuthorizationPolicyConfig("default/audit-posts", AuthorizationEffect.Audit, [new Rule { To = [new RuleTo { Operation = new Operation { Methods = ["POST"] } }] }]),
            new AuthorizationPolicyConfig("default/deny-admin", AuthorizationEffect.Deny, [new Rule { To = [new RuleTo { Operation = new Operation { Paths = ["/admin*"] } }] }]),
        ]);
        var http2 = engine is Engine.Http2Fast or Engine.Http2Kestrel;
        var log = new AccessLogConfig(path, Format: "%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %DYNAMIC_METADATA(envoy.common:access_log_hint)%");
        var listener = Snapshots.Listener(protocols: http2 ? HttpProtocols.Http2 : HttpProtocols.Http1) with
        {
            Authorization = policies,
            Telemetry = new ListenerTelemetryConfig(AccessLogs: [log]),
        };
        var snapshot = new ProxySnapshot(
            "1", [listener], [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], [Snapshots.Route("r", "backend")])])], [new ClusterConfig("backend", [backend.Endpoint])]);
        var options = new ProxyServerOptions { FastHttp1 = engine == Engine.Http1Fast, FastHttp2 = engine == Engine.Http2Fast };
        await using var proxy = await ProxyHarness.StartAsync(snapshot, options);

        Assert.Equal(HttpStatusCode.OK, await SendAsync(proxy, HttpMethod.Post, "/items", http2));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(proxy, HttpMethod.Get, "/items", http2));
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(proxy, HttpMethod.Post, "/admin", http2));

        await Eventually.TrueAsync(() => File.Exists(path) && File.ReadAllLines(path).Length >= 3, "three access-log lines");
        Assert.Equal(["POST /items 200 true", "GET /items 200 -", "POST /admin 403 true"], File.ReadAllLines(path));
        Assert.Contains("trellis_authorization_audited_total 2\n", proxy.Server.PrometheusMetrics(), StringComparison.Ordinal);
    }

    private static async Task<HttpStatusCode> SendAsync(ProxyHarness proxy, HttpMethod method, string path, bool http2)
    {
        using var request = new HttpRequestMessage(method, path)
        {
            Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = method == HttpMethod.Post ? new StringContent("x") : null,
        };
        using var response = await proxy.Client.SendAsync(request);
        return response.StatusCode;
    }
}
