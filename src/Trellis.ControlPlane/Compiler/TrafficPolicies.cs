using Trellis.Api;
using Trellis.Api.Networking;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>The parts of a DestinationRule's traffic policy that shape a cluster, after merging.</summary>
internal sealed record EffectivePolicy(LoadBalancerSettings? LoadBalancer, ConnectionPoolSettings? ConnectionPool, OutlierDetection? OutlierDetection, ClientTlsSettings? Tls = null);

/// <summary>
/// DestinationRule <c>trafficPolicy</c> → cluster settings, as pilot builds Envoy clusters
/// (pilot/pkg/networking/core/cluster_traffic_policy.go). Istio cannot tell an unset number from 0, so 0 means "not
/// set" throughout, as there; the defaults left are Envoy's, written out.
/// </summary>
internal static class TrafficPolicies
{
    /// <summary>
    /// Istio's <c>MergeSubsetTrafficPolicy</c> for one cluster port: a port-level setting replaces the rule's policy whole
    /// (its absent parts fall to defaults, not to the rule's); the subset's policy then overrides part by part, except
    /// that a subset port-level setting again replaces every part.
    /// </summary>
    public static EffectivePolicy Merge(TrafficPolicy? rule, TrafficPolicy? subset, int port)
    {
        var (ruleLevel, _) = ForPort(rule, port);
        var (subsetLevel, portLevel) = ForPort(subset, port);
        if (subsetLevel is null)
        {
            return ruleLevel ?? new EffectivePolicy(null, null, null);
        }

        if (ruleLevel is null || portLevel)
        {
            return subsetLevel;
        }

        return new EffectivePolicy(
            subsetLevel.LoadBalancer ?? ruleLevel.LoadBalancer,
            subsetLevel.ConnectionPool ?? ruleLevel.ConnectionPool,
            subsetLevel.OutlierDetection ?? ruleLevel.OutlierDetection,
            subsetLevel.Tls ?? ruleLevel.Tls);
    }

    private static (EffectivePolicy? Policy, bool PortLevel) ForPort(TrafficPolicy? policy, int port)
    {
        if (policy is null)
        {
            return (null, false);
        }

        var level = policy.PortLevelSettings.FirstOrDefault(p => p.Port?.Number == port);
        return level is null
            ? (new EffectivePolicy(policy.LoadBalancer, policy.ConnectionPool, policy.OutlierDetection, policy.Tls), false)
            : (new EffectivePolicy(level.LoadBalancer, level.ConnectionPool, level.OutlierDetection, level.Tls), true);
    }

    /// <summary>The cluster with the policy's load balancing, connection pool and outlier detection.</summary>
    public static ClusterConfig Apply(ClusterConfig cluster, EffectivePolicy policy)
    {
        var lb = policy.LoadBalancer;
        var hash = ConsistentHash(lb?.ConsistentHash);
        var kind = Kind(lb?.Simple);
        // Istio sets a slow start window only on ROUND_ROBIN and LEAST_REQUEST clusters (the default included).
        var warmup = hash is null && kind is LoadBalancerKind.RoundRobin or LoadBalancerKind.LeastRequest ? Positive(lb?.WarmupDurationSecs) : null;
        return cluster with
        {
            LoadBalancer = kind,
            ConsistentHash = hash,
            WarmupDuration = warmup,
            ConnectionPool = ConnectionPool(policy.ConnectionPool),
            OutlierDetection = OutlierDetection(policy.OutlierDetection),
        };
    }

    /// <summary>
    /// LEAST_CONN (deprecated) and LEAST_REQUEST are power of two choices. No <c>simple</c> is round robin: Istio's default
    /// is LEAST_REQUEST, Trellis keeps round robin (docs/traffic-policy.md says why).
    /// </summary>
    public static LoadBalancerKind Kind(SimpleLoadBalancer? simple) => simple switch
    {
        SimpleLoadBalancer.LeastConn or SimpleLoadBalancer.LeastRequest => LoadBalancerKind.LeastRequest,
        SimpleLoadBalancer.Random => LoadBalancerKind.Random,
        SimpleLoadBalancer.Passthrough => LoadBalancerKind.Passthrough,
        _ => LoadBalancerKind.RoundRobin,
    };

    /// <summary>Maglev when <c>maglev</c> is written, else a ring (pilot's <c>ApplyRingHashLoadBalancer</c>); 0 sizes are Envoy's defaults.</summary>
    public static ConsistentHashConfig? ConsistentHash(ConsistentHashLoadBalancer? hash)
    {
        if (hash is null)
        {
            return null;
        }

        var config = hash switch
        {
            { HttpHeaderName: { } header } => new ConsistentHashConfig(HashKeyKind.Header, header.ToLowerInvariant()),
            { HttpCookie: { } cookie } => new ConsistentHashConfig(HashKeyKind.Cookie, cookie.Name, cookie.Path, Positive(cookie.Ttl)),
            { UseSourceIp: true } => new ConsistentHashConfig(HashKeyKind.SourceIp),
            { HttpQueryParameterName: { } query } => new ConsistentHashConfig(HashKeyKind.QueryParameter, query),
            _ => null,
        };
        if (config is null)
        {
            return null;
        }

        if (hash.Maglev is { } maglev)
        {
            return config with { Algorithm = HashAlgorithm.Maglev, MaglevTableSize = maglev.TableSize is > 0 and <= int.MaxValue ? (int)maglev.TableSize : 65537 };
        }

        var ring = hash.RingHash is { } r ? r.MinimumRingSize : hash.MinimumRingSize;
        return config with { MinimumRingSize = ring is > 0 and <= int.MaxValue ? (int)ring : 1024 };
    }

    /// <summary>
    /// Pilot's <c>applyConnectionPool</c>: thresholds of 0 are unlimited (Istio's maxRetries default is unlimited too;
    /// Trellis applies its retry budget instead); <c>http.idleTimeout</c>, else <c>tcp.idleTimeout</c>; a
    /// <c>tcpKeepalive</c> turns keep-alive on with the system's settings for the parts it leaves out.
    /// </summary>
    public static ConnectionPoolConfig? ConnectionPool(ConnectionPoolSettings? pool)
    {
        if (pool is null)
        {
            return null;
        }

        var keepalive = pool.Tcp?.TcpKeepalive is { } k
            ? new TcpKeepaliveConfig(k.Probes is > 0 ? k.Probes : null, Positive(k.Time), Positive(k.Interval))
            : null;
        return new ConnectionPoolConfig(
            MaxConnections: PositiveOrNull(pool.Tcp?.MaxConnections),
            MaxPendingRequests: PositiveOrNull(pool.Http?.Http1MaxPendingRequests),
            MaxRequests: PositiveOrNull(pool.Http?.Http2MaxRequests),
            MaxRetries: PositiveOrNull(pool.Http?.MaxRetries),
            MaxRequestsPerConnection: PositiveOrNull(pool.Http?.MaxRequestsPerConnection),
            ConnectTimeout: Positive(pool.Tcp?.ConnectTimeout),
            IdleTimeout: Positive(pool.Http?.IdleTimeout) ?? Positive(pool.Tcp?.IdleTimeout),
            TcpKeepalive: keepalive,
            MaxConnectionDuration: Positive(pool.Tcp?.MaxConnectionDuration));
    }

    /// <summary>
    /// Pilot's <c>applyOutlierDetection</c> with Envoy's defaults for what it leaves unset: 5 consecutive 5xx, gateway
    /// errors off, 10 s interval, 30 s base ejection, at most 10 % ejected (0 means the default), no panic threshold
    /// unless <c>minHealthPercent</c>. The deprecated <c>consecutiveErrors</c> counts gateway errors (502, 503, 504) and
    /// turns the 5xx count off, as Istio translated it while it honoured the field (istio/api#617).
    /// </summary>
    public static OutlierDetectionConfig? OutlierDetection(OutlierDetection? outlier)
    {
        if (outlier is null)
        {
            return null;
        }

        var config = new OutlierDetectionConfig();
        if (outlier.ConsecutiveErrors is > 0 and var errors)
        {
            config = config with { ConsecutiveGatewayErrors = errors, Consecutive5xxErrors = 0 };
        }

        if (outlier.Consecutive5xxErrors is { } fiveXx)
        {
            config = config with { Consecutive5xxErrors = Math.Max(0, fiveXx) };
        }

        if (outlier.ConsecutiveGatewayErrors is { } gateway)
        {
            config = config with { ConsecutiveGatewayErrors = Math.Max(0, gateway) };
        }

        if (outlier.SplitExternalLocalOriginErrors == true)
        {
            config = config with { SplitExternalLocalOriginErrors = true };
            if (outlier.ConsecutiveLocalOriginFailures is > 0 and var local)
            {
                config = config with { ConsecutiveLocalOriginFailures = local };
            }
        }

        return config with
        {
            Interval = Positive(outlier.Interval) ?? config.Interval,
            BaseEjectionTime = Positive(outlier.BaseEjectionTime) ?? config.BaseEjectionTime,
            MaxEjectionPercent = outlier.MaxEjectionPercent is > 0 and var max ? max : config.MaxEjectionPercent,
            MinHealthPercent = Math.Max(0, outlier.MinHealthPercent ?? 0),
        };
    }

    private static int? PositiveOrNull(int? value) => value is > 0 ? value : null;

    private static TimeSpan? Positive(string? duration) =>
        duration is not null && Durations.TryParse(duration, out var value) && value > TimeSpan.Zero ? value : null;
}
