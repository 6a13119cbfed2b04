using System.Text.Json.Nodes;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// Knative Routes as proxy virtual hosts: the Route's URL host (and <c>{tag}-</c> hosts) on gateways,
/// plus <c>{name}.{namespace}.svc.cluster.local</c> inside the mesh, split by percent over one cluster
/// per revision. Read from the Route's status, which the serving controller resolved.
/// </summary>
internal static class KnativeRoutes
{
    /// <param name="visible">In the mesh: whether the calling workload's view (its Sidecar) holds the route's service (namespace, FQDN).</param>
    public static IEnumerable<VirtualHostConfig> Hosts(MeshIndex index, ClusterSet clusters, bool mesh, ISet<string> taken, Func<string, string, bool>? visible = null)
    {
        foreach (var route in index.KnativeRoutes)
        {
            if (route.Status is not { } status || status["traffic"] is not JsonArray traffic)
            {
                continue;
            }

            if (visible is not null && !visible(route.Namespace, $"{route.Name}.{route.Namespace}.svc.cluster.local"))
            {
                continue;
            }

            var ns = route.Namespace;
            var fqdn = $"{route.Name}.{ns}.svc.cluster.local";
            var split = new List<WeightedClusterConfig>();
            var tags = new List<(string Host, string Cluster)>();
            foreach (var target in traffic)
            {
                var revision = (string?)target?["revisionName"];
                if (revision is null)
                {
                    continue;
                }

                var cluster = clusters.Revision(ns, fqdn, revision);
                var percent = target!["percent"] is JsonValue p && p.TryGetValue<long>(out var v) ? (int)v : 0;
                if (percent > 0)
                {
                    split.Add(new WeightedClusterConfig(cluster, percent));
                }

                if (HostOf((string?)target["url"]) is { } tagHost)
                {
                    tags.Add((tagHost, cluster));
                }
            }

            if (split.Count > 0)
            {
                var domains = mesh ? [fqdn, $"{route.Name}.{ns}.svc", $"{route.Name}.{ns}"] : new List<string>();
                if (HostOf((string?)status["url"]) is { } external)
                {
                    domains.Add(external);
                }

                if (Claim(domains, taken) is { Count: > 0 } mine)
                {
                    yield return new VirtualHostConfig($"knative/{ns}/{route.Name}", mine, [new RouteConfig("traffic", [], split)]);
                }
            }

            foreach (var (host, cluster) in tags)
            {
                if (Claim([host], taken) is { Count: > 0 } mine)
                {
                    yield return new VirtualHostConfig($"knative/{ns}/{route.Name}/{host}", mine, [new RouteConfig("tag", [], [new WeightedClusterConfig(cluster, 100)])]);
                }
            }
        }
    }

    /// <summary>A domain already served (a Service or VirtualService of that name) keeps its owner.</summary>
    private static List<string> Claim(List<string> domains, ISet<string> taken) => domains.Where(taken.Add).ToList();

    private static string? HostOf(string? url) => Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.Host : null;
}
