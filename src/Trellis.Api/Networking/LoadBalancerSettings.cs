using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Trellis.Api.Networking;

/// <summary>Either a <see cref="Simple"/> algorithm or <see cref="ConsistentHash"/>, not both.</summary>
public sealed record LoadBalancerSettings
{
    public SimpleLoadBalancer? Simple { get; init; }

    public ConsistentHashLoadBalancer? ConsistentHash { get; init; }

    /// <summary>Locality-aware balancing; kept as written, applied by multi-zone setups only.</summary>
    public JsonNode? LocalityLbSetting { get; init; }

    public string? WarmupDurationSecs { get; init; }
}

public enum SimpleLoadBalancer
{
    [JsonStringEnumMemberName("UNSPECIFIED")]
    Unspecified,
    [JsonStringEnumMemberName("LEAST_CONN")]
    LeastConn,
    [JsonStringEnumMemberName("RANDOM")]
    Random,
    [JsonStringEnumMemberName("PASSTHROUGH")]
    Passthrough,
    [JsonStringEnumMemberName("ROUND_ROBIN")]
    RoundRobin,
    [JsonStringEnumMemberName("LEAST_REQUEST")]
    LeastRequest,
}

/// <summary>Session affinity by hashing one request attribute (exactly one of the hash keys).</summary>
public sealed record ConsistentHashLoadBalancer
{
    public string? HttpHeaderName { get; init; }

    public HttpCookie? HttpCookie { get; init; }

    public bool? UseSourceIp { get; init; }

    public string? HttpQueryParameterName { get; init; }

    public RingHash? RingHash { get; init; }

    public Maglev? Maglev { get; init; }

    /// <summary>Deprecated; use <see cref="RingHash"/>.</summary>
    public long? MinimumRingSize { get; init; }
}

public sealed record HttpCookie
{
    public required string Name { get; init; }

    public string? Path { get; init; }

    public string? Ttl { get; init; }
}

public sealed record RingHash
{
    public long? MinimumRingSize { get; init; }
}

public sealed record Maglev
{
    public long? TableSize { get; init; }
}
