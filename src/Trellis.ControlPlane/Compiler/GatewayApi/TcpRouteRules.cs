using System.Globalization;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>
/// A Gateway's <c>TCP</c> listeners as TCP relays (docs/tcp.md): one per port, relaying every connection to the
/// backends of the TCPRoutes attached to it (by the same attachment function as HTTPRoutes), by weight. The spec has
/// no matches for TCP: the oldest attached route (then namespace/name) takes the port's connections, its first rule
/// with backends. A rule whose backends are all invalid (or of weight 0) closes connections, as an HTTPRoute rule
/// without a valid backend answers 500; invalid backends among valid ones keep their share and close it.
/// </summary>
internal static class TcpRouteRules
{
    public static IEnumerable<ListenerConfig> Listeners(GatewayEntry gateway, GatewayApiIndex index, ClusterSet clusters)
    {
        foreach (var port in gateway.Spec.Listeners.Where(l => l.Protocol == "TCP").GroupBy(l => l.Port).OrderBy(p => p.Key))
        {
            if (gateway.Spec.Listeners.Any(l => l.Port == port.Key && l.Protocol != "TCP"))
            {
                continue; // another protocol on the port: a ProtocolConflict, neither is served
            }

            var attached = index.TcpRoutes
                .Where(r => RouteAttachments.Resolve(r.Head, index).SelectMany(p => p.Listeners).Any(a => a.Gateway == gateway && a.Listener.Port == port.Key));
            var routes = new List<TcpRouteConfig>();
            if (Oldest(attached) is { Spec.Rules: [var rule, ..] } route)
            {
                // The first rule takes every connection (TCP has no matches to choose among rules).
                var id = route.Head.Id;
                var targets = Targets(id, rule, clusters, index);
                routes.Add(new TcpRouteConfig(string.Create(CultureInfo.InvariantCulture, $"{id.Namespace}/{id.Name}/{rule.Name ?? "rule0"}"), [], targets));
            }

            var name = string.Create(CultureInfo.InvariantCulture, $"gatewayapi/{gateway.Namespace}/{gateway.Name}/{port.Key}");
            yield return new ListenerConfig(name, gateway.Address!, port.Key, ListenerKind.Gateway, "", Tcp: new TcpProxyConfig(routes, DestinationPort: port.Key));
        }
    }

    /// <summary>The route that takes a port's connections among several: the oldest, then by namespace/name.</summary>
    public static TcpRouteEntry? Oldest(IEnumerable<TcpRouteEntry> routes) =>
        routes.OrderBy(r => r.Head.Id.Created).ThenBy(r => $"{r.Head.Id.Namespace}/{r.Head.Id.Name}", StringComparer.Ordinal).FirstOrDefault();

    /// <summary>
    /// The clusters of a TCPRoute or TLSRoute rule by weight: each valid backend's service port, an invalid one an
    /// empty cluster that closes its share; weight 0 none.
    /// </summary>
    public static List<WeightedClusterConfig> Targets(RouteIdentity id, Trellis.Api.GatewayApi.TcpRouteRule rule, ClusterSet clusters, GatewayApiIndex index)
    {
        var targets = new List<WeightedClusterConfig>();
        foreach (var backend in rule.BackendRefs)
        {
            var weight = backend.Weight ?? 1;
            if (weight == 0)
            {
                continue;
            }

            var resolved = BackendRefs.Resolve(id, backend.Group, backend.Kind, backend.Name, backend.Namespace, backend.Port, index);
            var cluster = resolved.Valid
                ? clusters.Outbound(resolved.Fqdn, resolved.Port, null)
                : clusters.Unreachable($"invalid|{id.Namespace}/{id.Name}|{backend.Namespace ?? id.Namespace}/{backend.Name}");
            targets.Add(new WeightedClusterConfig(cluster, weight));
        }

        return targets;
    }
}
