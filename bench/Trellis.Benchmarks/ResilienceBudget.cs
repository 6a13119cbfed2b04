using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Resilience;

namespace Trellis.Benchmarks;

/// <summary>
/// The per-request resilience decisions the pipeline calls (retry policy, back-off, circuit-breaker counts, outlier
/// detection's streaks, the token bucket, CORS, endpoint picks with ejections, slow start and consistent hashing), for the
/// allocation budget: each must allocate nothing. Each call does the work of one request or attempt.
/// </summary>
internal static class ResilienceBudget
{
    public static IEnumerable<(string Name, Action Call)> Operations()
    {
        var policy = new RetryPolicy(new RetryConfig(
            2,
            RetryOn: ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes", "retriable-headers"],
            RetriableStatusCodes: [503],
            RetryOnExplicit: false));
        var fields = new NoFields();
        var ok = AttemptOutcome.Response(200, -1, fields);
        var unavailable = AttemptOutcome.Response(503, -1, fields);
        var reset = AttemptOutcome.Failed(AttemptFailure.ConnectFailure);
        yield return ("retry: decide on a 200", () => policy.Decide(ok, "GET", true, 0, true));
        yield return ("retry: decide on a 503, named fields", () => policy.Decide(unavailable, "POST", true, 0, true, "x-a, x-b"));
        yield return ("retry: decide on a connect failure", () => policy.Decide(reset, "GET", true, 1, false));

        var backoff = new RetryBackoff(null, Random.Shared.Next);
        yield return ("retry: back-off delay", () => backoff.Delay(3));

        var breaker = ClusterCircuitBreaker.Create(new ConnectionPoolConfig(MaxConnections: 100, MaxPendingRequests: 100, MaxRequests: 100), null);
        var endpoints = new[] { new EndpointState("10.0.0.1", 9080), new EndpointState("10.0.0.2", 9080) };
        var detector = OutlierDetector.Create(
            new OutlierDetectionConfig { Consecutive5xxErrors = int.MaxValue, ConsecutiveGatewayErrors = int.MaxValue }, endpoints, null, TimeProvider.System);
        yield return ("outlier: record a 200", () => detector.Record(endpoints[0], ok));
        yield return ("outlier: record a 503", () => detector.Record(endpoints[1], unavailable));
        yield return ("breaker: request take + release", () => RequestTakeAndRelease(breaker));
        yield return ("breaker: retry budget take + release", () => RetryTakeAndRelease(breaker));

        var bucket = new TokenBucket(new RateLimitConfig(1000, 100, TimeSpan.FromMilliseconds(100)), TimeProvider.System);
        yield return ("rate limit: token take", () => bucket.TryTake());

        var cors = new CorsPolicy(
            new CorsConfig([new(StringMatchKind.Exact, "https://example.com")], ["GET", "POST"], ["content-type"], ["x-request-id"], TimeSpan.FromHours(1), true),
            TimeSpan.FromMilliseconds(50));
        yield return ("cors: evaluate a preflight", () => cors.Evaluate("OPTIONS", "https://example.com", "POST"));
        yield return ("cors: preflight + response fields", () => CountFields(cors));
    }

    /// <summary>Endpoint picks with what Envoy's balancers weigh: ejections, slow start, consistent hashing.</summary>
    public static IEnumerable<(string Name, Action Call)> Picks()
    {
        foreach (var (name, config) in new (string, ClusterConfig)[]
        {
            ("round robin", new ClusterConfig("c", [])),
            ("least request", new ClusterConfig("c", [], LoadBalancerKind.LeastRequest)),
            ("ring hash", new ClusterConfig("c", [], ConsistentHash: new ConsistentHashConfig(HashKeyKind.Header, "x-user"))),
            ("maglev", new ClusterConfig("c", [], ConsistentHash: new ConsistentHashConfig(HashKeyKind.Header, "x-user", Algorithm: HashAlgorithm.Maglev))),
        })
        {
            var hash = HashKey.Hash("jason".AsSpan());
            var healthy = Picker(config, ejected: false);
            var oneEjected = Picker(config, ejected: true);
            yield return ($"pick: {name}", () => healthy.Pick(hash));
            yield return ($"pick: {name}, one ejected", () => oneEjected.Pick(hash));
        }

        var warming = new EndpointPicker(
            new ClusterConfig("c", [], WarmupDuration: TimeSpan.FromDays(1)),
            Enumerable.Range(1, 4).Select(i => new EndpointState("10.0.1." + i, 9080)).ToArray(),
            null,
            Random.Shared.Next,
            TimeProvider.System);
        yield return ("pick: round robin, warming up", () => warming.Pick());
        yield return ("pick: hash a header value", () => HashKey.Hash("a-session-id-of-some-length".AsSpan()));
    }

    // The sets are built before any call is measured (the budget lists every operation first), so each picker has its own.
    private static EndpointPicker Picker(ClusterConfig config, bool ejected)
    {
        var endpoints = Enumerable.Range(1, 4).Select(i => new EndpointState("10.0.0." + i, 9080)).ToArray();
        var detector = OutlierDetector.Create(new OutlierDetectionConfig { MaxEjectionPercent = 50 }, endpoints, null, TimeProvider.System);
        for (var i = 0; ejected && i < 5; i++)
        {
            detector.Record(endpoints[1], AttemptOutcome.Response(503));
        }

        return new EndpointPicker(config, endpoints, detector, Random.Shared.Next, TimeProvider.System);
    }

    private static int CountFields(CorsPolicy cors)
    {
        var count = 0;
        foreach (var field in cors.PreflightHeaders("https://example.com", "POST", "content-type"))
        {
            count += field.Value.Length;
        }

        foreach (var field in cors.ResponseHeaders("https://example.com"))
        {
            count += field.Value.Length;
        }

        return count;
    }

    private static void RequestTakeAndRelease(ClusterCircuitBreaker breaker)
    {
        if (breaker.TryStartRequest())
        {
            breaker.EndRequest();
        }
    }

    private static void RetryTakeAndRelease(ClusterCircuitBreaker breaker)
    {
        if (breaker.TryStartRetry())
        {
            breaker.EndRetry();
        }
    }

    private sealed class NoFields : IResponseHeaderLookup
    {
        public bool Contains(ReadOnlySpan<char> name) => false;
    }
}
