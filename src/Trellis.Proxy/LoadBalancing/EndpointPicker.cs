using Trellis.Api.Snapshots;
using Trellis.Proxy.Resilience;

namespace Trellis.Proxy.LoadBalancing;

/// <summary>
/// Chooses a cluster's endpoint for each attempt, with everything Envoy's load balancers weigh: the policy (round
/// robin, least request as power of two choices, random, or consistent hashing by ring hash or Maglev), outlier
/// ejections, the panic threshold and slow start. One per cluster per snapshot; <see cref="Pick"/> is lock-free and
/// allocates nothing.
/// <list type="bullet">
/// <item>Ejected endpoints are skipped by every policy. When fewer than the panic threshold (Istio's
/// <c>minHealthPercent</c>, which it maps to Envoy's <c>healthy_panic_threshold</c>; 0 by default, never) of the
/// endpoints serve, the cluster is in panic and every endpoint serves, ejected or not; when none serves and the
/// cluster is not in panic, there is no healthy upstream (null: 503 <c>UH</c>).</item>
/// <item>Slow start (<see cref="SlowStart"/>) scales the weight of endpoints that joined within the window, for round
/// robin and least request only (as in Envoy). While some endpoint warms up, both pick in proportion to weight, as
/// Envoy's EDF scheduler does once weights differ: round robin by the slow-start weight, least request by Envoy's
/// effective weight <c>weight / (requests in flight + 1)</c>.</item>
/// <item>Consistent hashing ignores slow start, as in Envoy; a request without a key (<c>hash</c> null) goes to a random
/// position, as Envoy does.</item>
/// </list>
/// </summary>
internal sealed class EndpointPicker
{
    // 2^64 / φ: successive multiples spread evenly over the 64-bit circle (a Weyl sequence).
    private const ulong GoldenRatio64 = 0x9E3779B97F4A7C15;

    private readonly EndpointState[] _endpoints;
    private readonly LoadBalancerKind _kind;
    private readonly IConsistentHashTable? _table;
    private readonly OutlierDetector? _outlier;
    private readonly SlowStart? _slowStart;
    private readonly long _lastJoined;
    private readonly Func<int, int> _random;
    private int _turn = -1;

    /// <param name="outlier">The cluster's detector; null when it has no outlier detection (then nothing is ejected).</param>
    /// <param name="random">Uniform in [0, maxExclusive), thread-safe (<see cref="ProxyServerOptions.Random"/>).</param>
    /// <param name="time">Marks when endpoints new to the cluster joined (for slow start) and reads the clock per pick while one warms up.</param>
    /// <param name="previous">The cluster's picker in the snapshot being replaced, so a hash ring keeps its points per endpoint.</param>
    public EndpointPicker(
        ClusterConfig config, EndpointState[] endpoints, OutlierDetector? outlier, Func<int, int> random, TimeProvider time, EndpointPicker? previous = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(time);
        _endpoints = endpoints;
        _kind = config.LoadBalancer;
        _outlier = outlier;
        _random = random;
        _table = config.ConsistentHash is { } hashing ? ConsistentHashTables.Build(hashing, endpoints, previous?._table) : null;

        // Every endpoint seen for the first time joins now; one kept from the previous snapshot keeps its time.
        var now = time.GetTimestamp();
        _lastJoined = long.MinValue;
        foreach (var endpoint in endpoints)
        {
            _lastJoined = Math.Max(_lastJoined, endpoint.Join(now));
        }

        if (config.WarmupDuration is { } window && window > TimeSpan.Zero && _table is null
            && config.LoadBalancer is LoadBalancerKind.RoundRobin or LoadBalancerKind.LeastRequest)
        {
            _slowStart = new SlowStart(window, time);
        }
    }

    public EndpointState[] Endpoints => _endpoints;

    /// <summary>Whether <see cref="Pick"/> wants the request's key hash (<see cref="ClusterConfig.ConsistentHash"/>).</summary>
    public bool UsesHash => _table is not null;

    /// <summary>Whether the cluster is in panic now: fewer than the threshold serve, so ejections are ignored.</summary>
    public bool InPanic => _outlier is { EjectedCount: > 0 } outlier
        && IsPanic(CountServing(_endpoints), _endpoints.Length, outlier.MinHealthPercent);

    /// <summary>
    /// The endpoint for the next attempt; null when the cluster has none or none serves (no healthy upstream).
    /// </summary>
    /// <param name="hash">The request's key hash (<see cref="HashKey.Hash(ReadOnlySpan{char}, long)"/>) for consistent
    /// hashing; null when the request has no key. Ignored by the other policies.</param>
    /// <param name="attempt">0 for the first attempt; a retry's number moves consistent hashing to another position.</param>
    public EndpointState? Pick(ulong? hash = null, int attempt = 0)
    {
        var endpoints = _endpoints;
        if (endpoints.Length == 0)
        {
            return null;
        }

        var serving = endpoints.Length;
        if (_outlier is { EjectedCount: > 0 } outlier)
        {
            var healthy = CountServing(endpoints);
            if (!IsPanic(healthy, endpoints.Length, outlier.MinHealthPercent))
            {
                if (healthy == 0)
                {
                    return null;
                }

                serving = healthy;
            }
        }

        var skipEjected = serving < endpoints.Length;
        if (_table is not null)
        {
            return _table.Pick(hash ?? RandomHash(), attempt, skipEjected);
        }

        if (_slowStart is { } slowStart)
        {
            var now = slowStart.Now();
            if (slowStart.Warming(_lastJoined, now))
            {
                return ByWeight(slowStart, now, skipEjected, leastRequest: _kind == LoadBalancerKind.LeastRequest);
            }
        }

        return _kind switch
        {
            LoadBalancerKind.LeastRequest => LeastRequest(serving, skipEjected),
            LoadBalancerKind.Random => NthServing(_random(serving), skipEjected),
            _ => NthServing((int)((uint)Interlocked.Increment(ref _turn) % (uint)serving), skipEjected),
        };
    }

    /// <summary>Envoy's panic rule (<c>isHostSetInPanic</c>): the share serving is below the threshold.</summary>
    public static bool IsPanic(int serving, int total, int thresholdPercent) =>
        total > 0 && 100.0 * serving / total < Math.Min(100, thresholdPercent);

    private static int CountServing(EndpointState[] endpoints)
    {
        var count = 0;
        foreach (var endpoint in endpoints)
        {
            count += endpoint.Outlier.IsEjected ? 0 : 1;
        }

        return count;
    }

    /// <summary>The n-th endpoint counting only serving ones when skipping (so each serving endpoint keeps an equal share).</summary>
    private EndpointState NthServing(int n, bool skipEjected)
    {
        if (!skipEjected)
        {
            return _endpoints[n];
        }

        foreach (var endpoint in _endpoints)
        {
            if (!endpoint.Outlier.IsEjected && n-- == 0)
            {
                return endpoint;
            }
        }

        // An endpoint was ejected between the count and this scan: any serving one will do.
        return FirstServing() ?? _endpoints[0];
    }

    private EndpointState? FirstServing()
    {
        foreach (var endpoint in _endpoints)
        {
            if (!endpoint.Outlier.IsEjected)
            {
                return endpoint;
            }
        }

        return null;
    }

    /// <summary>Two distinct random candidates, the one with fewer requests in flight wins (Envoy's default choice count of 2).</summary>
    private EndpointState LeastRequest(int serving, bool skipEjected)
    {
        if (serving == 1)
        {
            return NthServing(0, skipEjected);
        }

        var first = _random(serving);
        var second = _random(serving - 1);
        if (second >= first)
        {
            second++;
        }

        var a = NthServing(first, skipEjected);
        var b = NthServing(second, skipEjected);
        return b.ActiveRequests < a.ActiveRequests ? b : a;
    }

    /// <summary>
    /// By weight along the turns' golden-ratio points: the i-th turn's point <c>frac(i × φ⁻¹)</c> spreads consecutive
    /// turns far apart and covers [0, 1) evenly, so shares follow the weights as closely as Envoy's EDF scheduler makes
    /// them, without its lock. For least request the weight is Envoy's effective weight
    /// <c>weight / (requests in flight + 1)</c> (its default active-request bias of 1).
    /// </summary>
    private EndpointState ByWeight(SlowStart slowStart, long now, bool skipEjected, bool leastRequest)
    {
        var turn = (ulong)(uint)Interlocked.Increment(ref _turn);
        var point = (turn * GoldenRatio64) / (double)ulong.MaxValue;
        var total = 0.0;
        foreach (var endpoint in _endpoints)
        {
            if (!skipEjected || !endpoint.Outlier.IsEjected)
            {
                total += Weight(slowStart, endpoint, now, leastRequest);
            }
        }

        var target = point * total;
        EndpointState? last = null;
        foreach (var endpoint in _endpoints)
        {
            if (skipEjected && endpoint.Outlier.IsEjected)
            {
                continue;
            }

            last = endpoint;
            target -= Weight(slowStart, endpoint, now, leastRequest);
            if (target < 0)
            {
                return endpoint;
            }
        }

        // Requests in flight changed between the two passes, or rounding left a sliver: the last one takes it.
        return last ?? _endpoints[0];
    }

    private static double Weight(SlowStart slowStart, EndpointState endpoint, long now, bool leastRequest)
    {
        var weight = slowStart.Factor(endpoint.JoinedAt, now);
        return leastRequest ? weight / (endpoint.ActiveRequests + 1) : weight;
    }

    private ulong RandomHash() => ((ulong)(uint)_random(int.MaxValue) << 33) ^ ((ulong)(uint)_random(int.MaxValue) << 2) ^ (uint)_random(4);
}
