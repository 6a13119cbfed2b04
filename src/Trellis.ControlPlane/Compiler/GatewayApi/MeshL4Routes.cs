using System.Globalization;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>
/// GAMMA for TCP and TLS: TCPRoutes and TLSRoutes whose parentRef is a Service apply to connections to that Service's
/// port from inside the mesh (its outbound TCP listeners, docs/tcp.md), the routes chosen as <see cref="MeshRoutes"/>
/// chooses HTTPRoutes (consumer routes of the client's namespace instead of the producer routes of the Service's). On a
/// TLS port, TLSRoutes by the ClientHello's server name (their hostnames, most specific first; none: any name) then a
/// TCPRoute for the rest; on a TCP port, the oldest TCPRoute's first rule takes every connection, as on a Gateway. A
/// connection no route takes is closed, as a call no GAMMA HTTPRoute takes gets 404.
/// </summary>
internal static class MeshL4Routes
{
    /// <summary>The routes for connections from <paramref name="sourceNamespace"/> to the service's port; null when no route applies.</summary>
    public static List<TcpRouteConfig>? For(
        GatewayApiIndex index, string serviceNamespace, string serviceName, int port, bool tls, string sourceNamespace, ClusterSet clusters)
    {
        var tcp = MeshRoutes.Chosen(index.TcpRoutes, r => r.Head, serviceNamespace, serviceName, port, sourceNamespace);
        var byName = tls ? MeshRoutes.Chosen(index.TlsRoutes, r => r.Head, serviceNamespace, serviceName, port, sourceNamespace) : [];
        if (tcp.Count == 0 && byName.Count == 0)
        {
            return null;
        }

        var candidates = new List<(string Host, RouteIdentity Id, TcpRouteConfig Route)>();
        foreach (var route in byName)
        {
            if (route.Spec.Rules is [var rule, ..])
            {
                candidates.AddRange(TlsRouteRules.Candidates(route.Head.Id, rule, route.Head.Hostnames.Count > 0 ? route.Head.Hostnames : ["*"], clusters, index));
            }
        }

        var routes = TlsRouteRules.Ordered(candidates);
        if (TcpRouteRules.Oldest(tcp) is { Spec.Rules: [var first, ..] } oldest)
        {
            var id = oldest.Head.Id;
            routes.Add(new TcpRouteConfig(string.Create(CultureInfo.InvariantCulture, $"{id.Namespace}/{id.Name}/{first.Name ?? "rule0"}"), [], TcpRouteRules.Targets(id, first, clusters, index)));
        }

        return routes;
    }
}
