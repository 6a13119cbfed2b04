using System.Globalization;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>
/// A Gateway's <c>TLS</c> listeners with <c>tls.mode: Passthrough</c> as TCP relays that read the ClientHello's server
/// name (docs/tcp.md): one per port, each connection to the TLSRoute attached for that name, still encrypted, by the
/// weights of the route's first rule. Names are matched most specific first (an exact name, then the longer
/// <c>*.</c> wildcard), then by age, as the spec resolves overlapping routes; a name no route takes is closed.
/// </summary>
internal static class TlsRouteRules
{
    public static IEnumerable<ListenerConfig> Listeners(GatewayEntry gateway, GatewayApiIndex index, ClusterSet clusters)
    {
        foreach (var port in gateway.Spec.Listeners.Where(RouteAttachments.IsPassthrough).GroupBy(l => l.Port).OrderBy(p => p.Key))
        {
            if (gateway.Spec.Listeners.Any(l => l.Port == port.Key && !RouteAttachments.IsPassthrough(l)))
            {
                continue; // another protocol (or a terminated TLS listener) on the port: neither is served
            }

            var candidates = new List<(string Host, RouteIdentity Id, TcpRouteConfig Route)>();
            foreach (var route in index.TlsRoutes)
            {
                if (route.Spec.Rules is not [var rule, ..])
                {
                    continue;
                }

                var hosts = RouteAttachments.Resolve(route.Head, index)
                    .SelectMany(p => p.Listeners)
                    .Where(a => a.Gateway == gateway && a.Listener.Port == port.Key)
                    .SelectMany(a => a.Hostnames)
                    .Distinct(StringComparer.OrdinalIgnoreCase)
                    .ToList();
                candidates.AddRange(Candidates(route.Head.Id, rule, hosts, clusters, index));
            }

            var routes = Ordered(candidates);
            var listener = string.Create(CultureInfo.InvariantCulture, $"gatewayapi/{gateway.Namespace}/{gateway.Name}/{port.Key}");
            yield return new ListenerConfig(listener, gateway.Address!, port.Key, ListenerKind.Gateway, "", Tcp: new TcpProxyConfig(routes, SniPeek: true, DestinationPort: port.Key));
        }
    }

    /// <summary>One route per server name a TLSRoute's rule is attached for, to the rule's backends by weight.</summary>
    public static IEnumerable<(string Host, RouteIdentity Id, TcpRouteConfig Route)> Candidates(
        RouteIdentity id, Trellis.Api.GatewayApi.TcpRouteRule rule, IReadOnlyList<string> hosts, ClusterSet clusters, GatewayApiIndex index)
    {
        var targets = TcpRouteRules.Targets(id, rule, clusters, index);
        foreach (var host in hosts)
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"{id.Namespace}/{id.Name}/{rule.Name ?? "rule0"}/{host}");
            yield return (host, id, new TcpRouteConfig(name, [new TcpMatchConfig(SniHosts: [host])], targets));
        }
    }

    /// <summary>Overlapping names resolved as the spec does: the most specific name first (<c>*</c> last), then the oldest route.</summary>
    public static List<TcpRouteConfig> Ordered(IEnumerable<(string Host, RouteIdentity Id, TcpRouteConfig Route)> candidates) =>
        candidates
            .OrderByDescending(c => c.Host == "*" ? -1 : RouteHostnames.Specificity(c.Host))
            .ThenBy(c => c.Id.Created)
            .ThenBy(c => $"{c.Id.Namespace}/{c.Id.Name}", StringComparer.Ordinal)
            .Select(c => c.Route)
            .ToList();
}
