using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>
/// GAMMA: HTTPRoutes and GRPCRoutes (TCPRoutes and TLSRoutes: <see cref="MeshL4Routes"/>) whose parentRef is a Service apply to calls to that Service (to the parentRef's port, or every
/// port) from inside the mesh. A route in the Service's namespace (a producer route) applies to every client; a route
/// in another namespace (a consumer route) applies to the clients of its own namespace only, instead of the producer
/// routes. Route hostnames do not apply to Service parents.
/// </summary>
internal static class MeshRoutes
{
    /// <summary>The routes for calls from <paramref name="sourceNamespace"/> to the service's port; null when no route applies.</summary>
    public static List<RouteConfig>? For(GatewayApiIndex index, string serviceNamespace, string serviceName, int port, string sourceNamespace, ClusterSet clusters)
    {
        var attached = index.HttpRoutes
            .Select(r => (r.Head, Translate: (Func<List<RankedRoute>>)(() => HttpRouteRules.Translate(r, port, clusters, index))))
            .Concat(index.GrpcRoutes.Select(r => (r.Head, Translate: (Func<List<RankedRoute>>)(() => GrpcRouteRules.Translate(r, port, clusters, index)))));
        var chosen = Chosen(attached, r => r.Head, serviceNamespace, serviceName, port, sourceNamespace);
        if (chosen.Count == 0)
        {
            return null;
        }

        return chosen.SelectMany(r => r.Translate()).OrderBy(r => r.Rank).Select(r => r.Route).ToList();
    }

    /// <summary>
    /// The routes of <paramref name="routes"/> attached to the service's port that apply to calls from
    /// <paramref name="sourceNamespace"/>: its consumer routes when it has some, else the producer routes (every kind of
    /// route, HTTP and TCP alike, is chosen by this one rule).
    /// </summary>
    public static List<T> Chosen<T>(IEnumerable<T> routes, Func<T, RouteHead> head, string serviceNamespace, string serviceName, int port, string sourceNamespace)
    {
        var attached = routes.Where(r => head(r).ParentRefs.Any(p => RouteAttachments.IsService(p) && p.Name == serviceName
            && (p.Namespace ?? head(r).Id.Namespace) == serviceNamespace && (p.Port is null || p.Port == port))).ToList();
        var consumer = attached.Where(r => head(r).Id.Namespace == sourceNamespace && sourceNamespace != serviceNamespace).ToList();
        return consumer.Count > 0 ? consumer : attached.Where(r => head(r).Id.Namespace == serviceNamespace).ToList();
    }
}
