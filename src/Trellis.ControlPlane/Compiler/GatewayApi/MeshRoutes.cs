using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>
/// GAMMA: HTTPRoutes whose parentRef is a Service apply to calls to that Service (to the parentRef's port, or every
/// port) from inside the mesh. A route in the Service's namespace (a producer route) applies to every client; a route
/// in another namespace (a consumer route) applies to the clients of its own namespace only, instead of the producer
/// routes. Route hostnames do not apply to Service parents.
/// </summary>
internal static class MeshRoutes
{
    /// <summary>The routes for calls from <paramref name="sourceNamespace"/> to the service's port; null when no HTTPRoute applies.</summary>
    public static List<RouteConfig>? For(GatewayApiIndex index, string serviceNamespace, string serviceName, int port, string sourceNamespace, ClusterSet clusters)
    {
        var attached = index.HttpRoutes
            .Where(r => r.Head.ParentRefs.Any(p => RouteAttachments.IsService(p) && p.Name == serviceName
                && (p.Namespace ?? r.Head.Id.Namespace) == serviceNamespace && (p.Port is null || p.Port == port)))
            .ToList();
        var consumer = attached.Where(r => r.Head.Id.Namespace == sourceNamespace && sourceNamespace != serviceNamespace).ToList();
        var chosen = consumer.Count > 0 ? consumer : attached.Where(r => r.Head.Id.Namespace == serviceNamespace).ToList();
        if (chosen.Count == 0)
        {
            return null;
        }

        return chosen.SelectMany(r => HttpRouteRules.Translate(r, port, clusters, index)).OrderBy(r => r.Rank).Select(r => r.Route).ToList();
    }
}
