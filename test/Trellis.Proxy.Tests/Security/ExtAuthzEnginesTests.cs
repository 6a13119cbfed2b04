using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Security;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;
using Trellis.Proxy.Tests.Pipeline;

namespace Trellis.Proxy.Tests.Security;

/// <summary>
/// CUSTOM AuthorizationPolicies with a real HTTP external authorizer on loopback (Istio's ext-authz sample's contract:
/// <c>x-ext-authz: allow</c> allows), on every engine: its refusal reaches the client with its status, body and the
/// allowed headers; its allowance carries the allowed headers upstream; DENY still applies after it; requests the
/// CUSTOM rules do not match never reach it; an unreachable authorizer is 403, <c>statusOnError</c>, or open.
/// </summary>
public sealed class ExtAuthzEnginesTests
{
    public static TheoryData<Engine> Engines() => Pipeline.Engines.All();

    private static ExtAuthzConfig Config(int port, bool failOpen = false, int statusOnError = 403) => new(
        "ext-authz", "127.0.0.1", port, TimeSpan.FromMinutes(10), "/check", failOpen, statusOnError,
        IncludeRequestHeadersInCheck: ["x-ext-authz"],
        IncludeAdditionalHeadersInCheck: new Dictionary<string, string> { ["x-from-proxy"] = "trellis" },
        HeadersToUpstreamOnAllow: ["x-ext-authz-check-*"],
        HeadersToDownstreamOnDeny: ["x-ext-authz-check-result"]);

    private static AuthorizationConfig Policies(ExtAuthzConfig config) => new(
    [
        new AuthorizationPolicyConfig("default/ext-authz", AuthorizationEffect.Custom, [new Rule { To = [new RuleTo { Operation = new Operation { Paths = ["/headers*"] } }] }]),
        new AuthorizationPolicyConfig("default/deny-admin", AuthorizationEffect.Deny, [new Rule { To = [new RuleTo { Operation = new Operation { Paths = ["*/admin"] } }] }]),
    ], config);

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Custom_EveryEngine_AuthorizerDecidesFirst(Engine engine)
    {
        var checks = new List<string>();
        await using var authorizer = await TestBackend.StartAsync(async context =>
        {
            lock (checks)
            {
                checks.Add($"{context.Request.Method} {context.Request.Path}{context.Request.QueryString} {context.Request.Headers.Host} {context.Request.Headers["x-from-proxy"]}");
            }

            context.Response.Headers["x-ext-authz-check-result"] = context.Request.Headers["x-ext-authz"] == "allow" ? "allowed" : "denied";
            context.Response.Headers["x-ext-authz-other"] = "not for the client";
            if (context.Request.Headers["x-ext-authz"] != "allow")
            {
                context.Response.StatusCode = 403;
                await context.Response.WriteAsync("denied by ext_authz for header x-ext-authz");
            }
        });
        await using var backend = await TestBackend.StartAsync(context =>
            context.Response.WriteAsync($"upstream {context.Request.Headers["x-ext-authz-check-result"]} {context.Request.Headers["x-ext-authz-other"]}"));
        await using var proxy = await StartAsync(engine, backend, Policies(Config(authorizer.Port)));

        var allowed = await SendAsync(proxy, engine, "/headers?a=1", "allow");
        var denied = await SendAsync(proxy, engine, "/headers", "deny");
        var admin = await SendAsync(proxy, engine, "/headers/admin", "allow");
        var other = await SendAsync(proxy, engine, "/other", null);

        Assert.Equal((HttpStatusCode.OK, "upstream allowed "), (allowed.Status, allowed.Body));
        Assert.Equal((HttpStatusCode.Forbidden, "denied by ext_authz for header x-ext-authz", "UAEX", "denied", false),
            (denied.Status, denied.Body, denied.Flags, denied.Header("x-ext-authz-check-result"), denied.Headers.ContainsKey("x-ext-authz-other")));
        Assert.Equal((HttpStatusCode.Forbidden, "RBAC: access denied"), (admin.Status, admin.Body));
        Assert.Equal(HttpStatusCode.OK, other.Status);
        lock (checks)
        {
            Assert.Equal(
                ["GET /check/headers?a=1 reviews:9080 trellis", "GET /check/headers reviews:9080 trellis", "GET /check/headers/admin reviews:9080 trellis"],
                checks);
        }
    }

    [Theory]
    [InlineData(false, 403, HttpStatusCode.Forbidden)]
    [InlineData(false, 503, HttpStatusCode.ServiceUnavailable)]
    [InlineData(true, 403, HttpStatusCode.OK)]
    public async Task Custom_AuthorizerUnreachable_StatusOnErrorUnlessFailOpen(bool failOpen, int statusOnError, HttpStatusCode expected)
    {
        await using var backend = await TestBackend.StartAsync(context => context.Response.WriteAsync("upstream"));
        await using var proxy = await StartAsync(Engine.Http1Fast, backend, Policies(Config(FreePorts.Next(), failOpen, statusOnError)));

        var answer = await SendAsync(proxy, Engine.Http1Fast, "/headers", "allow");

        Assert.Equal(expected, answer.Status);
        Assert.Equal(failOpen ? null : "UAEX", answer.Flags);
    }

    private static async Task<ProxyHarness> StartAsync(Engine engine, TestBackend backend, AuthorizationConfig policies)
    {
        var http2 = engine is Engine.Http2Fast or Engine.Http2Kestrel;
        var snapshot = new ProxySnapshot(
            "1",
            [Snapshots.Listener(protocols: http2 ? HttpProtocols.Http2 : HttpProtocols.Http1) with { Authorization = policies }],
            [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], [Snapshots.Route("r", "backend")])])],
            [new ClusterConfig("backend", [backend.Endpoint])]);
        return await ProxyHarness.StartAsync(snapshot, new ProxyServerOptions { FastHttp1 = engine == Engine.Http1Fast, FastHttp2 = engine == Engine.Http2Fast });
    }

    private sealed record Answer(HttpStatusCode Status, string Body, string? Flags, Dictionary<string, string> Headers)
    {
        public string? Header(string name) => Headers.GetValueOrDefault(name);
    }

    private static async Task<Answer> SendAsync(ProxyHarness proxy, Engine engine, string path, string? verdict)
    {
        var http2 = engine is Engine.Http2Fast or Engine.Http2Kestrel;
        using var request = new HttpRequestMessage(HttpMethod.Get, path) { Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Headers.Host = "reviews:9080";
        request.Headers.TryAddWithoutValidation("x-other", "client");
        if (verdict is not null)
        {
            request.Headers.TryAddWithoutValidation("x-ext-authz", verdict);
        }

        using var response = await proxy.Client.SendAsync(request);
        var headers = response.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => string.Join(",", h.Value));
        return new Answer(response.StatusCode, await response.Content.ReadAsStringAsync(), headers.GetValueOrDefault("x-trellis-response-flags"), headers);
    }
}
