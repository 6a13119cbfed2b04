using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Security;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;
using Trellis.Proxy.Tests.Pipeline;

namespace Trellis.Proxy.Tests.Security;

/// <summary>
/// RequestAuthentication runs in the pipeline's inbound-policy stage, before authorization, so every engine answers
/// alike: an invalid token 401 with Envoy's message, none passes to authorization (403 when a request principal is
/// required), a valid one reaches the upstream; a refused request never does.
/// </summary>
public sealed class JwtEnginesTests
{
    public static TheoryData<Engine> Engines() => Pipeline.Engines.All();

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task RequireRequestPrincipal_EveryEngine_401Invalid403Missing200Valid(Engine engine)
    {
        var time = new ManualTimeProvider();
        var tokens = new JwtTokens(time.GetUtcNow());
        var reached = 0;
        await using var backend = await TestBackend.StartAsync(context =>
        {
            Interlocked.Increment(ref reached);
            return context.Response.WriteAsync("upstream");
        });
        var requirePrincipal = new AuthorizationConfig(
            [new AuthorizationPolicyConfig("default/require-jwt", AuthorizationEffect.Allow, [new Rule { From = [new RuleFrom { Source = new Source { RequestPrincipals = ["https://issuer.test/alice"] } }] }])]);
        var http2 = engine is Engine.Http2Fast or Engine.Http2Kestrel;
        var listener = Snapshots.Listener(protocols: http2 ? HttpProtocols.Http2 : HttpProtocols.Http1) with
        {
            Authorization = requirePrincipal,
            Authentication = new AuthenticationConfig([tokens.Provider(audiences: ["bookinfo"])]),
        };
        var snapshot = new ProxySnapshot(
            "1",
            [listener],
            [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], [Snapshots.Route("r", "backend")])])],
            [new ClusterConfig("backend", [backend.Endpoint])]);
        var options = new ProxyServerOptions { FastHttp1 = engine == Engine.Http1Fast, FastHttp2 = engine == Engine.Http2Fast };
        await using var proxy = await ProxyHarness.StartAsync(snapshot, options, time: time);

        var missing = await SendAsync(proxy, null, http2);
        var forged = await SendAsync(proxy, tokens.Tampered(), http2);
        var expired = await SendAsync(proxy, tokens.Rs256(d => { d.NotBefore = tokens.Now.UtcDateTime.AddHours(-2); d.Expires = tokens.Now.UtcDateTime.AddHours(-1); }), http2);
        var none = await SendAsync(proxy, tokens.AlgNone(), http2);
        Assert.Equal(0, Volatile.Read(ref reached));
        var valid = await SendAsync(proxy, tokens.Es256(), http2);
        var otherUser = await SendAsync(proxy, tokens.Rs256(d => d.Subject = new System.Security.Claims.ClaimsIdentity([new System.Security.Claims.Claim("sub", "bob")])), http2);

        Assert.Equal((403, "RBAC: access denied"), (missing.Status, missing.Body));
        Assert.Equal((401, "Jwt verification fails"), (forged.Status, forged.Body));
        Assert.Contains("invalid_token", forged.Challenge, StringComparison.Ordinal);
        Assert.Equal((401, "Jwt is expired"), (expired.Status, expired.Body));
        Assert.Equal(401, none.Status);
        Assert.Equal((200, "upstream"), (valid.Status, valid.Body));
        Assert.Equal(403, otherUser.Status); // authenticated, but not the principal the policy names
        Assert.Equal(1, Volatile.Read(ref reached));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Outputs_EveryEngine_TokenRemovedPayloadAndClaimsSentForgedClaimHeadersDropped(Engine engine)
    {
        var time = new ManualTimeProvider();
        var tokens = new JwtTokens(time.GetUtcNow());
        await using var backend = await TestBackend.StartAsync(context =>
        {
            var seen = new[] { "authorization", "x-jwt-payload", "x-jwt-sub", "x-jwt-groups", "x-jwt-admin" }
                .Select(h => $"{h}={context.Request.Headers[h]}");
            return context.Response.WriteAsync(string.Join("\n", seen));
        });
        var http2 = engine is Engine.Http2Fast or Engine.Http2Kestrel;
        var outputs = tokens.Provider() with
        {
            OutputPayloadToHeader = "x-jwt-payload",
            OutputClaimToHeaders = [new JwtClaimHeader("x-jwt-sub", "sub"), new JwtClaimHeader("x-jwt-groups", "groups"), new JwtClaimHeader("x-jwt-admin", "admin")],
        };
        var snapshot = Snapshot(backend, http2, outputs);
        var options = new ProxyServerOptions { FastHttp1 = engine == Engine.Http1Fast, FastHttp2 = engine == Engine.Http2Fast };
        await using var proxy = await ProxyHarness.StartAsync(snapshot, options, time: time);

        // groups is an array (not copied: Envoy copies strings, numbers and booleans), so the client's forged value goes too.
        var token = tokens.Es256(d => d.Claims = new Dictionary<string, object> { ["admin"] = true });
        var sent = await SendAsync(proxy, token, http2, ("x-jwt-groups", "admins"), ("x-jwt-sub", "mallory"));
        Assert.Equal(200, sent.Status);
        Assert.Equal(
            $"authorization=\nx-jwt-payload={token.Split('.')[1]}\nx-jwt-sub=alice\nx-jwt-groups=\nx-jwt-admin=true",
            sent.Body);

        // Without a token nothing is verified and nothing is added; forwardOriginalToken keeps the token.
        var anonymous = await SendAsync(proxy, null, http2);
        Assert.Equal("authorization=\nx-jwt-payload=\nx-jwt-sub=\nx-jwt-groups=\nx-jwt-admin=", anonymous.Body);
        await proxy.Server.ApplyAsync(Snapshot(backend, http2, tokens.Provider() with { ForwardOriginalToken = true }) with { Version = "2" });
        var forwarded = await SendAsync(proxy, token, http2);
        Assert.StartsWith($"authorization=Bearer {token}\n", forwarded.Body, StringComparison.Ordinal);
    }

    private static ProxySnapshot Snapshot(TestBackend backend, bool http2, JwtProviderConfig provider) => new(
        "1",
        [Snapshots.Listener(protocols: http2 ? HttpProtocols.Http2 : HttpProtocols.Http1) with { Authentication = new AuthenticationConfig([provider]) }],
        [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], [Snapshots.Route("r", "backend")])])],
        [new ClusterConfig("backend", [backend.Endpoint])]);

    private static async Task<(int Status, string Body, string Challenge)> SendAsync(ProxyHarness proxy, string? token, bool http2, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/headers")
        {
            Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        }

        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await proxy.Client.SendAsync(request);
        var challenge = response.Headers.WwwAuthenticate.ToString();
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), challenge);
    }
}
