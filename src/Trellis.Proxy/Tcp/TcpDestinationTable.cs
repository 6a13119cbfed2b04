using System.Collections.Frozen;
using System.Net;
using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;

namespace Trellis.Proxy.Tcp;

/// <summary>
/// The TCP destinations of one outbound listener in one compiled snapshot (<see cref="TcpDestinationsConfig"/>): by name
/// and port (a CONNECT target), by address and port (ServiceEntry <c>addresses</c>), else the passthrough routes of
/// <c>ALLOW_ANY</c> (null under <c>REGISTRY_ONLY</c>). Immutable; a connection reads it once.
/// </summary>
internal sealed class TcpDestinationTable
{
    private readonly FrozenDictionary<string, TcpRouteTable> _exact;
    private readonly (string Suffix, int Port, TcpRouteTable Table)[] _wildcards;
    private readonly (IPNetwork Network, int Port, TcpRouteTable Table)[] _addresses;

    private TcpDestinationTable(
        FrozenDictionary<string, TcpRouteTable> exact, (string, int, TcpRouteTable)[] wildcards, (IPNetwork, int, TcpRouteTable)[] addresses, TcpRouteTable otherwise, bool registryOnly)
    {
        _exact = exact;
        _wildcards = wildcards;
        _addresses = addresses;
        Otherwise = otherwise;
        RegistryOnly = registryOnly;
    }

    /// <summary>
    /// The routes of a destination no entry names: to the destination itself (<c>PassthroughCluster</c>, <c>ALLOW_ANY</c>)
    /// or to a cluster without endpoints (<c>BlackHoleCluster</c>, <c>REGISTRY_ONLY</c>: refused, counted as Envoy counts it).
    /// </summary>
    public TcpRouteTable Otherwise { get; }

    /// <summary>Whether <see cref="Otherwise"/> refuses (<c>REGISTRY_ONLY</c>).</summary>
    public bool RegistryOnly { get; }

    public static TcpDestinationTable Compile(TcpDestinationsConfig config, IReadOnlyDictionary<string, ClusterState> clusters, ListenerConfig listener)
    {
        var exact = new Dictionary<string, TcpRouteTable>(StringComparer.OrdinalIgnoreCase);
        var wildcards = new List<(string, int, TcpRouteTable)>();
        var addresses = new List<(IPNetwork, int, TcpRouteTable)>();
        foreach (var destination in config.Destinations ?? [])
        {
            var table = TcpRouteTable.Compile(destination.Tcp, clusters, listener);
            foreach (var host in destination.Hosts ?? [])
            {
                if (host.StartsWith("*.", StringComparison.Ordinal))
                {
                    wildcards.Add((host[1..], destination.Port, table));
                }
                else
                {
                    exact.TryAdd(Key(host, destination.Port), table);
                }
            }

            foreach (var address in destination.Addresses ?? [])
            {
                addresses.Add((TcpSubnets.Parse(address), destination.Port, table));
            }
        }

        // The longest suffix and the narrowest block win, as Envoy's domain and CIDR matching; the order is otherwise kept.
        var registryOnly = clusters[config.Otherwise].Config.LoadBalancer != LoadBalancerKind.Passthrough;
        var otherwise = TcpRouteTable.Compile(
            new TcpProxyConfig([new TcpRouteConfig(registryOnly ? "block_all" : "allow_any", [], [new WeightedClusterConfig(config.Otherwise, 100)])]), clusters, listener);
        return new TcpDestinationTable(
            exact.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase),
            [.. wildcards.OrderByDescending(w => w.Item1.Length)],
            [.. addresses.OrderByDescending(a => a.Item1.PrefixLength)],
            otherwise,
            registryOnly);
    }

    /// <summary>The routes of <paramref name="host"/> (a name, lowercase or not) on <paramref name="port"/>; null: not a known destination.</summary>
    public TcpRouteTable? Find(string host, int port)
    {
        if (_exact.TryGetValue(Key(host, port), out var table))
        {
            return table;
        }

        foreach (var (suffix, p, wildcard) in _wildcards)
        {
            if (p == port && host.Length > suffix.Length && host.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                return wildcard;
            }
        }

        return null;
    }

    /// <summary>The routes of a destination whose <c>addresses</c> hold <paramref name="address"/> on <paramref name="port"/>; null: none.</summary>
    public TcpRouteTable? Find(IPAddress address, int port)
    {
        var plain = TcpSubnets.Plain(address);
        foreach (var (network, p, table) in _addresses)
        {
            if (p == port && network.Contains(plain))
            {
                return table;
            }
        }

        return null;
    }

    private static string Key(string host, int port) => string.Concat(host, ":", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
