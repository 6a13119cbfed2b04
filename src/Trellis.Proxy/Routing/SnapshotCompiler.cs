using System.Collections.Frozen;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Serving;

namespace Trellis.Proxy.Routing;

/// <summary>Turns a validated snapshot into the immutable lookup structures requests use.</summary>
internal static class SnapshotCompiler
{
    /// <param name="previous">The snapshot being replaced; endpoint state is carried over from it.</param>
    public static CompiledSnapshot Compile(
        ProxySnapshot snapshot,
        CompiledSnapshot previous,
        UpstreamClients clients,
        ProxyServerOptions options)
    {
        var clusters = new Dictionary<string, ClusterState>(StringComparer.Ordinal);
        foreach (var cluster in snapshot.Clusters ?? [])
        {
            previous.Clusters.TryGetValue(cluster.Name, out var old);
            var endpoints = (cluster.Endpoints ?? []).Select(e => ReuseOrCreate(old, e)).ToArray();
            LoadBalancingPolicies.TryGet(cluster.LoadBalancer, out var policy);
            clusters[cluster.Name] = new ClusterState(
                cluster.Name, endpoints, policy, cluster.Protocol, clients.For(cluster.Protocol), options.Random, cluster.Activation);
        }

        var tables = new Dictionary<string, CompiledRouteTable>(StringComparer.Ordinal);
        foreach (var table in snapshot.RouteTables ?? [])
        {
            tables[table.Name] = CompileTable(table, clusters, options.RegexMatchTimeout);
        }

        var byListener = (snapshot.Listeners ?? []).ToFrozenDictionary(l => l.Name, l => tables[l.RouteTable], StringComparer.Ordinal);
        var serving = (snapshot.Listeners ?? [])
            .Where(l => l.Serving is not null)
            .ToFrozenDictionary(
                l => l.Name,
                l => InstanceServing.Create(l.Serving!, previous.ServingByListener.GetValueOrDefault(l.Name)),
                StringComparer.Ordinal);
        return new CompiledSnapshot(snapshot, byListener, clusters.ToFrozenDictionary(StringComparer.Ordinal), serving);
    }

    public static CompiledRouteTable CompileTable(RouteTableConfig table, IReadOnlyDictionary<string, ClusterState> clusters, TimeSpan regexTimeout)
    {
        var domains = new List<(string, CompiledVirtualHost)>();
        foreach (var host in table.VirtualHosts ?? [])
        {
            var routes = (host.Routes ?? []).Select(r => CompileRoute(r, clusters, regexTimeout)).ToArray();
            var compiled = new CompiledVirtualHost(host.Name, routes);
            domains.AddRange((host.Domains ?? []).Select(d => (d, compiled)));
        }

        return new CompiledRouteTable(table.Name, domains);
    }

    private static CompiledRoute CompileRoute(RouteConfig route, IReadOnlyDictionary<string, ClusterState> clusters, TimeSpan regexTimeout)
    {
        var matches = (route.Matches ?? []).Select(m => new CompiledMatch(m, regexTimeout)).ToArray();
        // Zero-weight clusters can never be picked; dropping them keeps the pick loop short.
        var targets = (route.Clusters ?? []).Where(c => c.Weight > 0).ToArray();
        var mirrors = (route.Mirrors ?? []).Select(m => (clusters[m.Cluster], m.Percentage)).ToArray();
        return new CompiledRoute(
            route,
            matches,
            targets.Select(c => clusters[c.Cluster]).ToArray(),
            targets.Select(c => c.Weight).ToArray(),
            targets,
            mirrors,
            regexTimeout);
    }

    private static EndpointState ReuseOrCreate(ClusterState? old, EndpointConfig endpoint)
    {
        if (old is not null)
        {
            foreach (var state in old.Endpoints)
            {
                if (state.Port == endpoint.Port && string.Equals(state.Address, endpoint.Address, StringComparison.OrdinalIgnoreCase))
                {
                    return state;
                }
            }
        }

        return new EndpointState(endpoint.Address, endpoint.Port);
    }
}
