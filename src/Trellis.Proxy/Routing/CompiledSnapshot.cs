using System.Collections.Frozen;
using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Serving;

namespace Trellis.Proxy.Routing;

/// <summary>
/// Everything a request needs, built from one accepted snapshot and never changed afterwards. The
/// server swaps the whole object; a request reads the reference once and uses it to the end.
/// </summary>
internal sealed class CompiledSnapshot
{
    public static readonly CompiledSnapshot Empty = new(
        ProxySnapshot.Empty,
        FrozenDictionary<string, CompiledRouteTable>.Empty,
        FrozenDictionary<string, ClusterState>.Empty);

    public CompiledSnapshot(
        ProxySnapshot source,
        FrozenDictionary<string, CompiledRouteTable> routeTablesByListener,
        FrozenDictionary<string, ClusterState> clusters,
        FrozenDictionary<string, InstanceServing>? servingByListener = null,
        FrozenDictionary<string, Resilience.TokenBucket>? rateLimitsByListener = null)
    {
        Source = source;
        RouteTablesByListener = routeTablesByListener;
        Clusters = clusters;
        ServingByListener = servingByListener ?? FrozenDictionary<string, InstanceServing>.Empty;
        RateLimitsByListener = rateLimitsByListener ?? FrozenDictionary<string, Resilience.TokenBucket>.Empty;
    }

    /// <summary>Only the listeners that have <see cref="ListenerConfig.RateLimit"/>: their token buckets.</summary>
    public FrozenDictionary<string, Resilience.TokenBucket> RateLimitsByListener { get; }

    public ProxySnapshot Source { get; }

    public FrozenDictionary<string, CompiledRouteTable> RouteTablesByListener { get; }

    public FrozenDictionary<string, ClusterState> Clusters { get; }

    /// <summary>Only the TLS listeners with <see cref="ListenerConfig.ServerNames"/>: their route tables by server name.</summary>
    public FrozenDictionary<string, ServerNameMap<CompiledRouteTable>> ServerNameTablesByListener { get; init; } = FrozenDictionary<string, ServerNameMap<CompiledRouteTable>>.Empty;

    /// <summary>
    /// The route table of a request on <paramref name="listener"/> whose connection sent <paramref name="serverName"/>
    /// (SNI; null for cleartext): the listener's table of that name, else its own.
    /// </summary>
    public CompiledRouteTable? TableFor(string listener, string? serverName)
    {
        if (serverName is not null && ServerNameTablesByListener.Count != 0 && ServerNameTablesByListener.TryGetValue(listener, out var byName) && byName.Find(serverName) is { } chosen)
        {
            return chosen;
        }

        return RouteTablesByListener.GetValueOrDefault(listener);
    }

    /// <summary>Only the listeners that relay TCP (<see cref="ListenerConfig.Tcp"/>): their routes.</summary>
    public FrozenDictionary<string, Tcp.TcpRouteTable> TcpByListener { get; init; } = FrozenDictionary<string, Tcp.TcpRouteTable>.Empty;

    /// <summary>Only the outbound listeners with <see cref="ListenerConfig.Destinations"/>: their TCP destinations (CONNECT, capture).</summary>
    public FrozenDictionary<string, Tcp.TcpDestinationTable> DestinationsByListener { get; init; } = FrozenDictionary<string, Tcp.TcpDestinationTable>.Empty;

    /// <summary>Only the listeners that have <see cref="ListenerConfig.Serving"/>.</summary>
    public FrozenDictionary<string, InstanceServing> ServingByListener { get; }
}
