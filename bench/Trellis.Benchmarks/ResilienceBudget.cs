using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Resilience;

namespace Trellis.Benchmarks;

/// <summary>
/// The per-request resilience decisions the pipeline calls (retry policy, back-off, circuit-breaker counts, outlier
/// detection's streaks), for the
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
