using Trellis.Api.Snapshots;
using Trellis.Proxy.Serving;

namespace Trellis.Proxy.Resilience;

/// <summary>
/// A cluster's circuit breakers (Envoy's per-cluster resource manager, as Istio's <c>connectionPool</c> sets it):
/// counts of requests in flight, requests waiting for a connection, upstream connections in use and retries in
/// flight, each taken only while below its threshold (<see cref="ConnectionPoolConfig"/>; null thresholds are
/// unlimited, but still counted). A refused take is an overflow: the pipeline answers 503 with the <c>UO</c> flag
/// (a refused retry instead keeps the attempt's answer, flagged <c>UO</c>, as Envoy's
/// <c>upstream_rq_retry_overflow</c>).
/// <para>Retries in flight are bounded by <see cref="ConnectionPoolConfig.MaxRetries"/> when set, else by the retry
/// budget (Envoy's <c>retry_budget</c>): <c>max(RetryBudgetPercent % × (requests in flight + pending),
/// RetryBudgetMinConcurrency)</c>, 20 % with a floor of 3 by default.</para>
/// <para>Every take and release is one compare-and-swap loop, no lock, no allocation; a count never passes its limit
/// under races and never goes below zero (a release without a take is ignored, not counted negative). Each
/// <c>TryStart…</c> that returned true must be paired with exactly one matching <c>End…</c> on the same instance.
/// The instance is carried across snapshots by <see cref="Create"/>, so a config push never forgets what is in
/// flight; new limits apply to the next take.</para>
/// </summary>
internal sealed class ClusterCircuitBreaker
{
    private Limits _limits;
    private int _requests;
    private int _pending;
    private int _connections;
    private int _retries;

    private ClusterCircuitBreaker(ConnectionPoolConfig? config) => _limits = new Limits(config);

    /// <summary>The cluster's breaker for a new snapshot: <paramref name="previous"/> with the new limits, so its counts
    /// carry over (Envoy keeps a cluster's resource manager while the cluster stays), or a new one.</summary>
    public static ClusterCircuitBreaker Create(ConnectionPoolConfig? config, ClusterCircuitBreaker? previous)
    {
        if (previous is null)
        {
            return new ClusterCircuitBreaker(config);
        }

        Volatile.Write(ref previous._limits, new Limits(config));
        return previous;
    }

    public int ActiveRequests => Volatile.Read(ref _requests);

    public int PendingRequests => Volatile.Read(ref _pending);

    public int ActiveConnections => Volatile.Read(ref _connections);

    public int ActiveRetries => Volatile.Read(ref _retries);

    /// <summary>The current bound on retries in flight: the fixed maximum, or the budget over the current load.</summary>
    public int RetryLimit
    {
        get
        {
            var limits = Volatile.Read(ref _limits);
            if (limits.MaxRetries is { } fixedLimit)
            {
                return fixedLimit;
            }

            // Envoy's RetryBudgetImpl::max(): truncated, never below the floor.
            var active = (long)ActiveRequests + PendingRequests;
            var budget = (long)(limits.RetryBudgetPercent / 100.0 * active);
            return (int)Math.Clamp(Math.Max(budget, limits.RetryBudgetMinConcurrency), 0, int.MaxValue);
        }
    }

    /// <summary>An upstream request (an attempt, retries included) starts; false over <c>http2MaxRequests</c>.</summary>
    public bool TryStartRequest() => TryIncrement(ref _requests, Volatile.Read(ref _limits).MaxRequests);

    public void EndRequest() => Decrement(ref _requests);

    /// <summary>A request waits for a connection; false over <c>http1MaxPendingRequests</c>.</summary>
    public bool TryStartPending() => TryIncrement(ref _pending, Volatile.Read(ref _limits).MaxPendingRequests);

    public void EndPending() => Decrement(ref _pending);

    /// <summary>A new upstream connection may open; false over <c>tcp.maxConnections</c> (the request then waits as pending,
    /// or is refused when pending is full too).</summary>
    public bool TryOpenConnection() => TryIncrement(ref _connections, Volatile.Read(ref _limits).MaxConnections);

    public void ConnectionClosed() => Decrement(ref _connections);

    /// <summary>A retry is scheduled; false when retries in flight reach <see cref="RetryLimit"/>. Held through the back-off
    /// and the retried attempt, as Envoy holds it, and released with <see cref="EndRetry"/>.</summary>
    public bool TryStartRetry() => TryIncrement(ref _retries, RetryLimit);

    public void EndRetry() => Decrement(ref _retries);

    private static bool TryIncrement(ref int count, int? limit) => BoundedCounter.TryIncrement(ref count, limit ?? int.MaxValue);

    private static void Decrement(ref int count) => BoundedCounter.TryDecrement(ref count);

    private sealed class Limits
    {
        public Limits(ConnectionPoolConfig? config)
        {
            MaxConnections = config?.MaxConnections;
            MaxPendingRequests = config?.MaxPendingRequests;
            MaxRequests = config?.MaxRequests;
            MaxRetries = config?.MaxRetries;
            RetryBudgetPercent = config?.RetryBudgetPercent ?? 20;
            RetryBudgetMinConcurrency = config?.RetryBudgetMinConcurrency ?? 3;
        }

        public int? MaxConnections { get; }

        public int? MaxPendingRequests { get; }

        public int? MaxRequests { get; }

        public int? MaxRetries { get; }

        public double RetryBudgetPercent { get; }

        public int RetryBudgetMinConcurrency { get; }
    }
}
