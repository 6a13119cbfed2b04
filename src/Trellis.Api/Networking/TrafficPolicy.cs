namespace Trellis.Api.Networking;

/// <summary>Load balancing, connection pool, outlier detection and client TLS for one destination.</summary>
public sealed record TrafficPolicy
{
    public LoadBalancerSettings? LoadBalancer { get; init; }

    public ConnectionPoolSettings? ConnectionPool { get; init; }

    public OutlierDetection? OutlierDetection { get; init; }

    public ClientTlsSettings? Tls { get; init; }

    public IReadOnlyList<PortTrafficPolicy> PortLevelSettings { get; init; } = [];

    public System.Text.Json.Nodes.JsonNode? Tunnel { get; init; }

    public System.Text.Json.Nodes.JsonNode? ProxyProtocol { get; init; }
}

/// <summary>A policy for one port of the destination, overriding the destination-wide one.</summary>
public sealed record PortTrafficPolicy
{
    public PortSelector? Port { get; init; }

    public LoadBalancerSettings? LoadBalancer { get; init; }

    public ConnectionPoolSettings? ConnectionPool { get; init; }

    public OutlierDetection? OutlierDetection { get; init; }

    public ClientTlsSettings? Tls { get; init; }
}

/// <summary>Passive health checking: endpoints that keep failing are ejected for a while.</summary>
public sealed record OutlierDetection
{
    /// <summary>Deprecated alias of <see cref="Consecutive5xxErrors"/> upstream; kept so old files read.</summary>
    public int? ConsecutiveErrors { get; init; }

    public int? ConsecutiveGatewayErrors { get; init; }

    public int? Consecutive5xxErrors { get; init; }

    public string? Interval { get; init; }

    public string? BaseEjectionTime { get; init; }

    public int? MaxEjectionPercent { get; init; }

    public int? MinHealthPercent { get; init; }

    public bool? SplitExternalLocalOriginErrors { get; init; }

    public int? ConsecutiveLocalOriginFailures { get; init; }
}
