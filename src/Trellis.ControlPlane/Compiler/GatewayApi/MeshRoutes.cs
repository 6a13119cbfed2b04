using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>
/// GAMMA: HTTPRoutes and GRPCRoutes whose parentRef is a Service apply to calls to that Service (to the parentRef's port, or every
/// port) from inside the mesh. A route in the Service's namespace (a producer route) applies to every client; a route
/// in another namespace (a consumer route) applies to the clients of its own namespace only, instead of the producer
/// routes. Route hostnames do not apply to Service parents.
/// </summary>
internal static class MeshRoutes
{
    /// <summary>The routes for calls from <paramref name="sourceNamespace"/> to the service's port; null when no route applies.</summary>
    public static List<RouteConfig>? For(GatewayApiIndex index, string serviceNamespace, string serviceName, int port, string sourceNamespace, ClusterSet clusters)
    {
        bool Attached(RouteHead head) => head.ParentRefs.Any(p => RouteAttachments.IsService(p) && p.Name == serviceName
            && (p.Namespace ?? head.Id.Namespace) == serviceNamespace && (p.Port is null || p.Port == port));
        var attached = index.HttpRoutes.Where(r => Attached(r.Head))
            .Select(r => (r.Head, Translate: (Func<List<RankedRoute>>)(() => HttpRouteRules.Translate(r, port, clusters, index))))
            .Concat(index.GrpcRoutes.Where(r => Attached(r.Head))
                .Select(r => (r.Head, Translate: (Func<List<RankedRoute>>)(() => GrpcRouteRules.Translate(r, port, clusters, index)))))
            .ToList();
        var consumer = attached.Where(r => r.Head.Id.Namespace == sourceNamespace && sourceNamespace != serviceNamespace).ToList();
        var chosen = consumer.Count > 0 ? consumer : attached.Where(r => r.Head.Id.Namespace == serviceNamespace).ToList();
        if (chosen.Count == 0)
        {
            return null;
        }

        return chosen.SelectMany(r => r.Translate()).OrderBy(r => r.Rank).Select(r => r.Route).ToList();
    }
}
