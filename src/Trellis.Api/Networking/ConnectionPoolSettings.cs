namespace Trellis.Api.Networking;

/// <summary>Limits on connections and requests to each endpoint of a destination (circuit breaking).</summary>
public sealed record ConnectionPoolSettings
{
    public TcpSettings? Tcp { get; init; }

    public HttpSettings? Http { get; init; }
}

public sealed record TcpSettings
{
    public int? MaxConnections { get; init; }

    public string? ConnectTimeout { get; init; }

    public TcpKeepalive? TcpKeepalive { get; init; }

    public string? MaxConnectionDuration { get; init; }

    public string? IdleTimeout { get; init; }
}

public sealed record TcpKeepalive
{
    public int? Probes { get; init; }

    public string? Time { get; init; }

    public string? Interval { get; init; }
}

public sealed record HttpSettings
{
    public int? Http1MaxPendingRequests { get; init; }

    public int? Http2MaxRequests { get; init; }

    public int? MaxRequestsPerConnection { get; init; }

    public int? MaxRetries { get; init; }

    public string? IdleTimeout { get; init; }

    /// <summary><c>DEFAULT</c>, <c>DO_NOT_UPGRADE</c> or <c>UPGRADE</c>.</summary>
    public string? H2UpgradePolicy { get; init; }

    public bool? UseClientProtocol { get; init; }

    public int? MaxConcurrentStreams { get; init; }
}
