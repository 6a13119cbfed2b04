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
    /// <param name="time">The clock of the live state built here (outlier reviews, warm-up, token buckets).</param>
    public static CompiledSnapshot Compile(
        ProxySnapshot snapshot,
        CompiledSnapshot previous,
        UpstreamClients clients,
        ProxyServerOptions options,
        TimeProvider? time = null,
        Upstream.MeshConnectors? connectors = null)
    {
        time ??= TimeProvider.System;
        var clusters = new Dictionary<string, ClusterState>(StringComparer.Ordinal);
        foreach (var cluster in snapshot.Clusters ?? [])
        {
            previous.Clusters.TryGetValue(cluster.Name, out var old);
            var endpoints = (cluster.Endpoints ?? []).Select(e => ReuseOrCreate(old, e)).ToArray();
            clusters[cluster.Name] = new ClusterState(cluster, endpoints, clients.For(cluster.Protocol), options.Random, time, old)
            {
                Tls = cluster.Tls is not null && connectors is not null
                    ? new Upstream.ClusterTls(cluster, endpoints, Upstream.TcpConnector.For(cluster.ConnectionPool?.TcpKeepalive), connectors)
                    : null,
            };
        }

        var buckets = PreviousRouteBuckets(previous);
        var tables = new Dictionary<string, CompiledRouteTable>(StringComparer.Ordinal);
        foreach (var table in snapshot.RouteTables ?? [])
        {
            tables[table.Name] = CompileTable(table, clusters, options.RegexMatchTimeout, new RouteStateContext(buckets, options.Random, time));
        }

        var byListener = (snapshot.Listeners ?? []).Where(l => l.Tcp is null).ToFrozenDictionary(l => l.Name, l => tables[l.RouteTable], StringComparer.Ordinal);
        var serving = (snapshot.Listeners ?? [])
            .Where(l => l.Serving is not null)
            .ToFrozenDictionary(
                l => l.Name,
                l => InstanceServing.Create(l.Serving!, previous.ServingByListener.GetValueOrDefault(l.Name)),
                StringComparer.Ordinal);
        var rateLimits = (snapshot.Listeners ?? [])
            .Where(l => l.RateLimit is not null)
            .ToFrozenDictionary(
                l => l.Name,
                l => Resilience.TokenBucket.Create(l.RateLimit!, previous.RateLimitsByListener.GetValueOrDefault(l.Name), time),
                StringComparer.Ordinal);
        var tcp = (snapshot.Listeners ?? [])
            .Where(l => l.Tcp is not null)
            .ToFrozenDictionary(l => l.Name, l => Tcp.TcpRouteTable.Compile(l.Tcp!, clusters, l), StringComparer.Ordinal);
        var destinations = (snapshot.Listeners ?? [])
            .Where(l => l.Destinations is not null)
            .ToFrozenDictionary(l => l.Name, l => Tcp.TcpDestinationTable.Compile(l.Destinations!, clusters, l), StringComparer.Ordinal);
        var serverNames = (snapshot.Listeners ?? [])
            .Where(l => l.ServerNames is { Count: > 0 } && l.Tcp is null)
            .ToFrozenDictionary(l => l.Name, l => new ServerNameMap<CompiledRouteTable>(l.ServerNames!.Select(n => (n.Hostname, tables[n.RouteTable]))), StringComparer.Ordinal);
        return new CompiledSnapshot(snapshot, byListener, clusters.ToFrozenDictionary(StringComparer.Ordinal), serving, rateLimits)
        {
            TcpByListener = tcp,
            DestinationsByListener = destinations,
            ServerNameTablesByListener = serverNames,
        };
    }

    /// <summary>What a route's live state is built from: the previous snapshot's token buckets (kept when unchanged), random, clock.</summary>
    public sealed record RouteStateContext(IReadOnlyDictionary<string, Resilience.TokenBucket> Buckets, Func<int, int> Random, TimeProvider Time);

    public static CompiledRouteTable CompileTable(
        RouteTableConfig table, IReadOnlyDictionary<string, ClusterState> clusters, TimeSpan regexTimeout, RouteStateContext? state = null)
    {
        var domains = new List<(string, CompiledVirtualHost)>();
        foreach (var host in table.VirtualHosts ?? [])
        {
            var routes = (host.Routes ?? []).Select(r => CompileRoute(r, clusters, regexTimeout, state, BucketKey(table.Name, host.Name, r.Name))).ToArray();
            var compiled = new CompiledVirtualHost(host.Name, routes);
            domains.AddRange((host.Domains ?? []).Select(d => (d, compiled)));
        }

        return new CompiledRouteTable(table.Name, domains);
    }

    private static CompiledRoute CompileRoute(
        RouteConfig route, IReadOnlyDictionary<string, ClusterState> clusters, TimeSpan regexTimeout, RouteStateContext? state, string bucketKey)
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
            regexTimeout)
        {
            Retry = route.Retry is { Attempts: > 0 } retry ? new Resilience.RetryPolicy(retry) : null,
            Backoff = route.Retry is { Attempts: > 0 } backoff ? new Resilience.RetryBackoff(backoff.BackoffBase, state?.Random ?? System.Random.Shared.Next) : null,
            Cors = route.Cors is { } cors ? new Resilience.CorsPolicy(cors, regexTimeout) : null,
            RateLimit = route.RateLimit is { } limit
                ? Resilience.TokenBucket.Create(limit, state?.Buckets.GetValueOrDefault(bucketKey), state?.Time ?? TimeProvider.System)
                : null,
            BucketKey = bucketKey,
        };
    }

    private static string BucketKey(string table, string host, string route) => string.Concat(table, "\n", host, "\n", route);

    private static Dictionary<string, Resilience.TokenBucket> PreviousRouteBuckets(CompiledSnapshot previous)
    {
        var buckets = new Dictionary<string, Resilience.TokenBucket>(StringComparer.Ordinal);
        foreach (var table in previous.RouteTablesByListener.Values.Distinct())
        {
            foreach (var host in table.VirtualHosts)
            {
                foreach (var route in host.Routes)
                {
                    if (route.RateLimit is { } bucket)
                    {
                        buckets[route.BucketKey] = bucket;
                    }
                }
            }
        }

        return buckets;
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
