using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Security;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;
using Trellis.Proxy.Tests.Pipeline;

namespace Trellis.Proxy.Tests.Security;

/// <summary>Authorization runs in the pipeline's inbound-policy stage, so every engine refuses alike and the upstream never sees a refused request.</summary>
public sealed class AuthorizationEnginesTests
{
    public static TheoryData<Engine> Engines() => Pipeline.Engines.All();

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task DenyAndAllow_EveryEngine_403RbacAccessDenied(Engine engine)
    {
        var reached = new List<string>();
        await using var backend = await TestBackend.StartAsync(context =>
        {
            lock (reached)
            {
                reached.Add(context.Request.Path.Value!);
            }

            return context.Response.WriteAsync("upstream");
        });
        var policies = new AuthorizationConfig(
        [
            new AuthorizationPolicyConfig("default/deny-admin", AuthorizationEffect.Deny, [new Rule { To = [new RuleTo { Operation = new Operation { Paths = ["/admin*"] } }] }]),
            new AuthorizationPolicyConfig("default/allow-get", AuthorizationEffect.Allow, [new Rule { To = [new RuleTo { Operation = new Operation { Methods = ["GET"] } }] }]),
        ]);
        var http2 = engine is Engine.Http2Fast or Engine.Http2Kestrel;
        var snapshot = new ProxySnapshot(
            "1",
            [Snapshots.Listener(protocols: http2 ? HttpProtocols.Http2 : HttpProtocols.Http1) with { Authorization = policies }],
            [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], [Snapshots.Route("r", "backend")])])],
            [new ClusterConfig("backend", [backend.Endpoint])]);
        var options = new ProxyServerOptions { FastHttp1 = engine == Engine.Http1Fast, FastHttp2 = engine == Engine.Http2Fast };
        await using var proxy = await ProxyHarness.StartAsync(snapshot, options);

        var (deniedStatus, deniedBody, deniedFlags) = await SendAsync(proxy, HttpMethod.Get, "/admin/users", http2);
        var (postStatus, postBody, _) = await SendAsync(proxy, HttpMethod.Post, "/items", http2);
        var (okStatus, okBody, okFlags) = await SendAsync(proxy, HttpMethod.Get, "/items", http2);

        Assert.Equal((403, "RBAC: access denied", "RBAC"), (deniedStatus, deniedBody, deniedFlags));
        Assert.Equal((403, "RBAC: access denied"), (postStatus, postBody));
        Assert.Equal((200, "upstream", (string?)null), (okStatus, okBody, okFlags));
        lock (reached)
        {
            Assert.Equal(["/items"], reached);
        }
    }

    private static async Task<(int Status, string Body, string? Flags)> SendAsync(ProxyHarness proxy, HttpMethod method, string path, bool http2)
    {
        using var request = new HttpRequestMessage(method, path)
        {
            Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = method == HttpMethod.Post ? new StringContent("x") : null,
        };
        using var response = await proxy.Client.SendAsync(request);
        var flags = response.Headers.TryGetValues("x-trellis-response-flags", out var values) ? string.Join(",", values) : null;
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), flags);
    }
}
