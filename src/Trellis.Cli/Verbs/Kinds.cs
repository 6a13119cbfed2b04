using Trellis.Api;

namespace Trellis.Cli.Verbs;

/// <summary>Maps what a user types (<c>vs</c>, <c>virtualservices</c>, <c>gw</c>) to API paths.</summary>
public static class Kinds
{
    /// <summary>Views the control plane computes rather than stores: the registry's pods, endpoints, connected proxies, async calls, its events.</summary>
    public static string? View(string name) => name.ToLowerInvariant() switch
    {
        "po" or "pod" or "pods" => "Pod",
        "ep" or "endpoint" or "endpoints" => "Endpoints",
        "proxy" or "proxies" => "Proxy",
        "no" or "node" or "nodes" => "Node",
        "call" or "calls" => "Call",
        "ev" or "event" or "events" => "Event",
        _ => null,
    };

    /// <summary>
    /// What <c>get all</c> lists, in this order: kubectl's common workload kinds (pods, services, deployments) and,
    /// as Knative's and Istio's CRDs add themselves to kubectl's <c>all</c> category, the serving and routing kinds.
    /// </summary>
    public static readonly IReadOnlyList<string> All =
        ["pods", "services", "deployments", "ksvc", "configurations", "revisions", "routes", "virtualservices", "destinationrules", "gateways", "gtw", "httproutes"];

    public static KindInfo Resolve(string name) =>
        ResourceKinds.Resolve(name) ?? throw new InputException($"the server doesn't have a resource type \"{name}\"");

    public static string Path(KindInfo kind, string? ns, string? name = null)
    {
        var root = kind.Group.Length == 0 ? $"/api/{kind.Versions[0]}" : $"/apis/{kind.Group}/{kind.Versions[0]}";
        var scope = ns is null ? "" : $"/namespaces/{ns}";
        return $"{root}{scope}/{kind.Plural}{(name is null ? "" : "/" + name)}";
    }

    public static string ViewPath(string view, string? ns) => view switch
    {
        "Pod" => ns is null ? "/api/v1/pods" : $"/api/v1/namespaces/{ns}/pods",
        "Endpoints" => ns is null ? "/api/v1/endpoints" : $"/api/v1/namespaces/{ns}/endpoints",
        "Node" => "/api/v1/nodes",
        "Call" => "/eventing/v1/calls",
        "Event" => ns is null ? "/api/v1/events" : $"/api/v1/namespaces/{ns}/events",
        _ => "/debug/proxies",
    };
}
