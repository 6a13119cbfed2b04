using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Pipeline;

/// <summary>
/// Traffic policy that needs more than one request or a stateful upstream (retries, circuit breakers, outlier
/// detection, affinity, rate limits, CORS), each through every engine: one pipeline decides for all of them.
/// </summary>
public sealed class PipelinePolicyTests
{
    private static RouteConfig Route(string cluster = "backend", RetryConfig? retry = null, CorsConfig? cors = null, RateLimitConfig? limit = null) =>
        new("r", [], [new WeightedClusterConfig(cluster, 1)], Retry: retry, Cors: cors, RateLimit: limit);

    /// <summary>An upstream that answers each path by a script of statuses (the last one repeats), counting its calls.</summary>
    private sealed class Scripted : IAsyncDisposable
    {
        private readonly ConcurrentDictionary<string, int> _calls = new();

        private Scripted(TestBackend backend) => Backend = backend;

        public TestBackend Backend { get; }

        public int Calls(string path) => _calls.GetValueOrDefault(path);

        public static async Task<Scripted> StartAsync(params (string Path, int[] Statuses)[] scripts)
        {
            Scripted? self = null;
            var backend = await TestBackend.StartAsync(async context =>
            {
                var path = context.Request.Path.Value!;
                var n = self!._calls.AddOrUpdate(path, 1, (_, c) => c + 1);
                var statuses = scripts.FirstOrDefault(s => s.Path == path).Statuses ?? [200];
                context.Response.StatusCode = statuses[Math.Min(n, statuses.Length) - 1];
                if (path == "/slow")
                {
                    await Task.Delay(TimeSpan.FromSeconds(2), context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                }

                await context.Response.WriteAsync($"call {n}");
            });
            self = new Scripted(backend);
            return self;
        }

        public ValueTask DisposeAsync() => Backend.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task Retry_5xxThenSuccess_ClientGetsTheSuccess(Engine engine)
    {
        await using var upstream = await Scripted.StartAsync(("/flaky", [503, 500, 200]));
        await using var proxy = await Engines.StartAsync(engine, [Route(retry: new RetryConfig(2, RetryOn: ["5xx"]))], [new ClusterConfig("backend", [upstream.Backend.Endpoint])]);

        using var response = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/flaky"));

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("call 3", await response.Content.ReadAsStringAsync());
        Assert.Equal(3, upstream.Calls("/flaky"));
        Assert.Null(Engines.Field(response, "x-trellis-response-flags"));
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task Retry_AttemptsExhausted_LastAnswerWithUrx(Engine engine)
    {
        await using var upstream = await Scripted.StartAsync(("/down", [503]));
        await using var proxy = await Engines.StartAsync(engine, [Route(retry: new RetryConfig(2, RetryOn: ["gateway-error"]))], [new ClusterConfig("backend", [upstream.Backend.Endpoint])]);

        using var response = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/down"));

        Assert.Equal(503, (int)response.StatusCode);
        Assert.Equal("call 3", await response.Content.ReadAsStringAsync());
        Assert.Equal("URX", Engines.Field(response, "x-trellis-response-flags"));
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task Retry_PostUnderIstiosDefault_NotSentTwice(Engine engine)
    {
        await using var upstream = await Scripted.StartAsync(("/order", [503, 200]));
        var istioDefault = new RetryConfig(2, RetryOn: ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"], RetriableStatusCodes: [503], RetryOnExplicit: false);
        await using var proxy = await Engines.StartAsync(engine, [Route(retry: istioDefault)], [new ClusterConfig("backend", [upstream.Backend.Endpoint])]);

        using var post = Engines.Request(engine, HttpMethod.Post, "/order");
        post.Content = new StringContent("{\"item\":1}");
        using var response = await proxy.Client.SendAsync(post);

        Assert.Equal(503, (int)response.StatusCode);
        Assert.Equal(1, upstream.Calls("/order"));
        Assert.Equal("NRY", Engines.Field(response, "x-trellis-response-flags"));
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task Retry_PutWithSmallBody_ReplayedWhole(Engine engine)
    {
        var bodies = new ConcurrentQueue<string>();
        var calls = 0;
        await using var backend = await TestBackend.StartAsync(async context =>
        {
            using var reader = new StreamReader(context.Request.Body);
            bodies.Enqueue(await reader.ReadToEndAsync());
            context.Response.StatusCode = Interlocked.Increment(ref calls) == 1 ? 503 : 200;
        });
        await using var proxy = await Engines.StartAsync(engine, [Route(retry: new RetryConfig(2, RetryOn: ["5xx"]))], [new ClusterConfig("backend", [backend.Endpoint])]);

        using var put = Engines.Request(engine, HttpMethod.Put, "/doc");
        put.Content = new StringContent(new string('x', 20_000));
        using var response = await proxy.Client.SendAsync(put);

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal([20_000, 20_000], bodies.Select(b => b.Length));
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task Retry_ConnectFailure_NextEndpointAnswers(Engine engine)
    {
        await using var upstream = await Scripted.StartAsync();
        using var refusing = Engines.ClosedPort();
        var closed = new EndpointConfig("127.0.0.1", refusing.Port);
        await using var proxy = await Engines.StartAsync(
            engine, [Route(retry: new RetryConfig(1, RetryOn: ["connect-failure"]))], [new ClusterConfig("backend", [closed, upstream.Backend.Endpoint])]);

        using var response = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/x"));

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(1, upstream.Calls("/x"));
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task Retry_PerTryTimeout_EachTryCutThenUt(Engine engine)
    {
        await using var upstream = await Scripted.StartAsync();
        await using var proxy = await Engines.StartAsync(
            engine, [Route(retry: new RetryConfig(1, PerTryTimeout: TimeSpan.FromMilliseconds(150), RetryOn: ["5xx"]))], [new ClusterConfig("backend", [upstream.Backend.Endpoint])]);

        using var response = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/slow"));

        Assert.Equal(504, (int)response.StatusCode);
        Assert.Equal("URX,UT", Engines.Field(response, "x-trellis-response-flags"));
        // The second try was cut by the proxy's clock; under load its request can reach the upstream's handler after the 504.
        await Eventually.TrueAsync(() => upstream.Calls("/slow") == 2, "the upstream saw both tries");
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task CircuitBreaker_MaxRequestsInFlight_OverflowIs503Uo(Engine engine)
    {
        await using var upstream = await Scripted.StartAsync();
        await using var proxy = await Engines.StartAsync(
            engine, [Route()], [new ClusterConfig("backend", [upstream.Backend.Endpoint], ConnectionPool: new ConnectionPoolConfig(MaxRequests: 1))]);

        var slow = proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/slow"));
        await Eventually.TrueAsync(() => upstream.Calls("/slow") == 1, "the first request reached the upstream");
        using var overflow = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/x"));
        using var first = await slow;

        Assert.Equal(503, (int)overflow.StatusCode);
        Assert.Equal("UO", Engines.Field(overflow, "x-trellis-response-flags"));
        Assert.Equal(200, (int)first.StatusCode);
        Assert.Equal(0, upstream.Calls("/x"));
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task CircuitBreaker_MaxConnectionsAndNoPending_OverflowIs503Uo(Engine engine)
    {
        await using var upstream = await Scripted.StartAsync();
        await using var proxy = await Engines.StartAsync(
            engine, [Route()], [new ClusterConfig("backend", [upstream.Backend.Endpoint], ConnectionPool: new ConnectionPoolConfig(MaxConnections: 1, MaxPendingRequests: 0))]);

        var slow = proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/slow"));
        await Eventually.TrueAsync(() => upstream.Calls("/slow") == 1, "the first request reached the upstream");
        using var overflow = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/x"));
        using var first = await slow;

        Assert.Equal(503, (int)overflow.StatusCode);
        Assert.Equal("UO", Engines.Field(overflow, "x-trellis-response-flags"));
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task OutlierDetection_FailingEndpointEjected_SiblingServesEverything(Engine engine)
    {
        await using var bad = await Scripted.StartAsync(("/x", [500]));
        await using var good = await Scripted.StartAsync();
        var outlier = new OutlierDetectionConfig { Consecutive5xxErrors = 2, Interval = TimeSpan.FromSeconds(30), BaseEjectionTime = TimeSpan.FromMinutes(5), MaxEjectionPercent = 50 };
        await using var proxy = await Engines.StartAsync(
            engine, [Route()], [new ClusterConfig("backend", [bad.Backend.Endpoint, good.Backend.Endpoint], OutlierDetection: outlier)]);

        var statuses = new List<int>();
        for (var i = 0; i < 20; i++)
        {
            using var response = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/x"));
            statuses.Add((int)response.StatusCode);
        }

        Assert.Equal(2, bad.Calls("/x")); // round robin sends it every other request until its second 500
        Assert.All(statuses.Skip(4), s => Assert.Equal(200, s));
    }

    /// <summary>
    /// Upstream connections are reused until <c>maxRequestsPerConnection</c> exchanges or <c>maxConnectionDuration</c>
    /// of age (on the injected clock): the backend sees which connection each request came on. The proxy's own pool
    /// carries HTTP/1.1 upstream connections for the fast paths (and the Kestrel path in production, FastHttp1 on); the
    /// Kestrel engine here runs with FastHttp1 off, on SocketsHttpHandler, whose pool has the proxy-wide settings.
    /// </summary>
    [Theory]
    [InlineData(Engine.Http1Fast)]
    [InlineData(Engine.Http2Fast)]
    public async Task ConnectionPool_RequestsPerConnectionAndDuration_BoundReuse(Engine engine)
    {
        var connections = new ConcurrentQueue<string>();
        await using var backend = await TestBackend.StartAsync(context =>
        {
            connections.Enqueue(context.Connection.Id);
            return Task.CompletedTask;
        });
        var time = new ManualTimeProvider();
        var pool = new ConnectionPoolConfig(MaxRequestsPerConnection: 2, MaxConnectionDuration: TimeSpan.FromSeconds(30));
        await using var proxy = await Engines.StartAsync(engine, [Route()], [new ClusterConfig("backend", [backend.Endpoint], ConnectionPool: pool)], time: time);

        async Task SendAsync()
        {
            using var response = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/"));
            Assert.Equal(200, (int)response.StatusCode);
        }

        // A connection goes back to the pool a moment after its response reaches the client, so a request may open a
        // new one before the last is back: the assertions bound reuse from above and say that it happens at all.
        for (var i = 0; i < 8; i++)
        {
            await SendAsync();
        }

        var perConnection = connections.GroupBy(c => c).Select(g => g.Count()).ToList();
        Assert.All(perConnection, n => Assert.True(n <= 2, $"a connection carried {n} requests; maxRequestsPerConnection is 2"));
        Assert.Contains(2, perConnection);

        // Past maxConnectionDuration (30 s; the idle timeout is 60 s) no connection is reused.
        connections.Clear();
        await SendAsync();
        time.Advance(TimeSpan.FromSeconds(31));
        await SendAsync();
        Assert.Equal(2, connections.Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task ConsistentHash_ByHeader_SameKeySameEndpoint(Engine engine)
    {
        var backends = new List<Scripted>();
        for (var i = 0; i < 4; i++)
        {
            backends.Add(await Scripted.StartAsync());
        }

        try
        {
            var hash = new ConsistentHashConfig(HashKeyKind.Header, "x-user");
            await using var proxy = await Engines.StartAsync(
                engine, [Route()], [new ClusterConfig("backend", backends.Select(b => b.Backend.Endpoint).ToList(), ConsistentHash: hash)]);

            foreach (var user in new[] { "ann", "bob", "cy" })
            {
                for (var i = 0; i < 5; i++)
                {
                    using var response = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/" + user, ("x-user", user)));
                    Assert.Equal(200, (int)response.StatusCode);
                }

                Assert.Equal(5, Assert.Single(backends, b => b.Calls("/" + user) > 0).Calls("/" + user));
            }
        }
        finally
        {
            foreach (var backend in backends)
            {
                await backend.DisposeAsync();
            }
        }
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task ConsistentHash_CookieWithTtl_IssuedAndThenSticky(Engine engine)
    {
        await using var a = await Scripted.StartAsync();
        await using var b = await Scripted.StartAsync();
        var hash = new ConsistentHashConfig(HashKeyKind.Cookie, "session", CookiePath: "/", CookieTtl: TimeSpan.FromHours(1));
        await using var proxy = await Engines.StartAsync(engine, [Route()], [new ClusterConfig("backend", [a.Backend.Endpoint, b.Backend.Endpoint], ConsistentHash: hash)]);

        using var first = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/s"));
        var setCookie = Engines.Field(first, "Set-Cookie");
        Assert.NotNull(setCookie);
        Assert.Contains("Max-Age=3600", setCookie, StringComparison.Ordinal);
        var cookie = setCookie!.Split(';')[0];
        for (var i = 0; i < 6; i++)
        {
            using var again = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/s", ("cookie", cookie)));
            Assert.Null(Engines.Field(again, "Set-Cookie"));
        }

        Assert.Contains(7, new[] { a.Calls("/s"), b.Calls("/s") });
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task RateLimit_ListenerBucketEmpty_429WithRateLimitFields(Engine engine)
    {
        await using var upstream = await Scripted.StartAsync();
        await using var proxy = await Engines.StartAsync(
            engine, [Route()], [new ClusterConfig("backend", [upstream.Backend.Endpoint])], listenerLimit: new RateLimitConfig(2, 1, TimeSpan.FromHours(1)));

        var statuses = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            statuses.Add(await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/x")));
        }

        Assert.Equal([200, 200, 429], statuses.Select(r => (int)r.StatusCode));
        var limited = statuses[2];
        Assert.Equal("RL", Engines.Field(limited, "x-trellis-response-flags"));
        Assert.Equal("2", Engines.Field(limited, "x-ratelimit-limit"));
        Assert.Equal("0", Engines.Field(limited, "x-ratelimit-remaining"));
        Assert.Equal(2, upstream.Calls("/x"));
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task RateLimit_RouteBucket_OnlyThatRouteLimited(Engine engine)
    {
        await using var upstream = await Scripted.StartAsync();
        var limited = new RouteConfig("limited", [new RouteMatchConfig(Uri: new(StringMatchKind.Prefix, "/api"))], [new WeightedClusterConfig("backend", 1)], RateLimit: new RateLimitConfig(1, 1, TimeSpan.FromHours(1)));
        await using var proxy = await Engines.StartAsync(engine, [limited, Route()], [new ClusterConfig("backend", [upstream.Backend.Endpoint])]);

        using var first = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/api/1"));
        using var second = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/api/2"));
        using var other = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/page"));

        Assert.Equal([200, 429, 200], new[] { (int)first.StatusCode, (int)second.StatusCode, (int)other.StatusCode });
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task Cors_PreflightFromAllowedOrigin_AnsweredByTheProxy(Engine engine)
    {
        await using var upstream = await Scripted.StartAsync();
        var cors = new CorsConfig([new StringMatchConfig(StringMatchKind.Exact, "https://app.example")], AllowMethods: ["GET", "POST"], AllowHeaders: ["x-token"], MaxAge: TimeSpan.FromHours(1), AllowCredentials: true);
        await using var proxy = await Engines.StartAsync(engine, [Route(cors: cors)], [new ClusterConfig("backend", [upstream.Backend.Endpoint])]);

        using var preflight = await proxy.Client.SendAsync(Engines.Request(
            engine, HttpMethod.Options, "/api", ("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "x-token")));
        using var actual = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/api", ("Origin", "https://app.example")));
        using var foreign = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/api", ("Origin", "https://evil.example")));

        Assert.Equal(200, (int)preflight.StatusCode);
        Assert.Equal("https://app.example", Engines.Field(preflight, "access-control-allow-origin"));
        Assert.Equal("GET,POST", Engines.Field(preflight, "access-control-allow-methods"));
        Assert.Equal("3600", Engines.Field(preflight, "access-control-max-age"));
        Assert.Equal(0, upstream.Calls("/api") - 2); // the preflight never reached the upstream
        Assert.Equal("https://app.example", Engines.Field(actual, "access-control-allow-origin"));
        Assert.Null(Engines.Field(foreign, "access-control-allow-origin"));
    }

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public async Task Passthrough_GoesToTheAuthorityAsked(Engine engine)
    {
        await using var upstream = await Scripted.StartAsync();
        await using var proxy = await Engines.StartAsync(engine, [Route()], [new ClusterConfig("backend", [], LoadBalancerKind.Passthrough)]);

        using var response = await proxy.Client.SendAsync(Engines.Request(engine, HttpMethod.Get, "/direct", ("host", $"127.0.0.1:{upstream.Backend.Port}")));

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(1, upstream.Calls("/direct"));
    }
}
