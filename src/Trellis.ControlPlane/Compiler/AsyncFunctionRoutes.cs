using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// OpenFaaS's asynchronous entry point on the gateway: <c>POST /async-function/{name}</c> is reserved on every host of
/// every gateway port, as the OpenFaaS gateway reserves it, and goes to the control plane's eventing listener, which
/// queues the call durably and answers 202 with its id. The route comes first in each virtual host so that a
/// VirtualService's catch-all cannot take it, and a <c>*</c> host is added when none exists, so a client that names
/// the gateway by its address (<c>http://127.0.0.1:8080/async-function/hello</c>) is served too.
/// </summary>
public static class AsyncFunctionRoutes
{
    public const string Prefix = "/async-function/";

    /// <summary>The route's (and the added catch-all host's) name, so that tools listing what a gateway serves can leave it out.</summary>
    public const string RouteName = "async-function";

    internal static List<VirtualHostConfig> Add(List<VirtualHostConfig> hosts, Uri? eventing, ClusterSet clusters)
    {
        if (eventing is null)
        {
            return hosts;
        }

        var cluster = clusters.Fixed(ClusterNames.Outbound(eventing.Port, null, "async-function.trellis-eventing"), eventing.Host, eventing.Port);
        var route = new RouteConfig(RouteName, [new RouteMatchConfig(Uri: new StringMatchConfig(StringMatchKind.Prefix, Prefix))], [new WeightedClusterConfig(cluster, 100)]);
        var withRoute = hosts.Select(h => h with { Routes = [route, .. h.Routes] }).ToList();
        if (!hosts.Any(h => h.Domains.Contains("*")))
        {
            withRoute.Add(new VirtualHostConfig(RouteName, ["*"], [route]));
        }

        return withRoute;
    }
}
