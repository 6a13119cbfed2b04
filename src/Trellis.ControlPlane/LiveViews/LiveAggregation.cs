using Trellis.Api.LiveViews;

namespace Trellis.ControlPlane.LiveViews;

/// <summary>What <c>trellis edges</c> connects: Deployments, pods (instances), Services or Knative Services.</summary>
internal enum EdgeKind
{
    Deployment,
    Pod,
    Service,
    KnativeService,
}

/// <summary>What <c>trellis stat</c> lists: Deployments, Services or Knative Services.</summary>
internal enum StatKind
{
    Deployment,
    Service,
    KnativeService,
}

/// <summary>
/// The live views as functions of what the proxies counted (<see cref="ProxyLiveStats"/>), as Linkerd's viz computes
/// them from its proxies' metrics: a Deployment's (or a Knative Service's revisions') numbers are what their own
/// proxies saw arrive (the destination reporter: every caller, mTLS known); a Service's are what its callers' proxies
/// saw (the source reporter, as Linkerd's authority stats: a request that found no endpoint counts too), with the mTLS
/// share from the destination side. Success is Linkerd's (no 5xx, gRPC OK); latencies are percentiles of the summed
/// histograms.
/// </summary>
internal static class LiveAggregation
{
    private const string Unknown = "unknown";

    /// <param name="window">Seconds the counts cover (rates are per second of it).</param>
    /// <param name="knativeServiceOf">The Knative Service a workload (namespace, name) is a revision of; null when none.</param>
    /// <param name="known">Rows to show even without requests (the kind's objects that exist), as (namespace, name).</param>
    public static List<StatRow> Stat(
        StatKind kind, IReadOnlyList<LiveEdge> edges, double window, Func<string, string, string?> knativeServiceOf, IEnumerable<(string Namespace, string Name)> known)
    {
        var inbound = edges.Where(e => e.Reporter == "destination").ToList();
        var groups = kind switch
        {
            StatKind.Deployment => inbound.GroupBy(e => (e.Destination.Namespace, Name: e.Destination.Workload)),
            StatKind.KnativeService => inbound
                .Select(e => (Edge: e, Service: knativeServiceOf(e.Destination.Namespace, e.Destination.Workload)))
                .Where(x => x.Service is not null)
                .GroupBy(x => (x.Edge.Destination.Namespace, Name: x.Service!), x => x.Edge),
            _ => edges.Where(e => e.Reporter == "source").GroupBy(e => (e.Service.Namespace, e.Service.Name)),
        };
        var rows = new Dictionary<(string Namespace, string Name), StatRow>();
        foreach (var group in groups)
        {
            if (group.Key.Name == Unknown)
            {
                continue;
            }

            var mutualTls = kind == StatKind.Service
                ? Share(inbound.Where(e => e.Service.Namespace == group.Key.Namespace && e.Service.Name == group.Key.Name))
                : Share(group);
            rows[group.Key] = Row(group.Key.Namespace, group.Key.Name, group.ToList(), window, mutualTls);
        }

        foreach (var key in known)
        {
            rows.TryAdd(key, Row(key.Namespace, key.Name, [], window, null));
        }

        return rows.Values.OrderBy(r => r.Namespace, StringComparer.Ordinal).ThenBy(r => r.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Who called whom, between objects of <paramref name="kind"/>: the edges the callees' proxies saw (they know the
    /// caller from Istio's metadata exchange and, over mTLS, its proven identity), then calls only a caller's proxy saw
    /// (a callee whose proxy counts nothing). Callers outside the mesh (<c>unknown</c>) are left out, as Linkerd leaves
    /// out unmeshed ones. Deployments and pods are the two sides' workloads and instances; for services, the caller is
    /// its canonical service (Kiali's service graph) and the callee the destination service; for Knative Services,
    /// edges whose callee is a revision of one, the caller named by its own Knative Service when it has one.
    /// </summary>
    /// <param name="knativeServiceOf">The Knative Service a workload (namespace, name) is a revision of; null when none.</param>
    public static List<EdgeRow> Edges(EdgeKind kind, IReadOnlyList<LiveEdge> edges, double window, Func<string, string, string?>? knativeServiceOf = null)
    {
        var rows = new Dictionary<(string, string, string, string), EdgeRow>();
        foreach (var reporter in new[] { "destination", "source" })
        {
            var pairs = edges
                .Where(e => e.Reporter == reporter && e.Source.Workload != Unknown)
                .Select(e => (Edge: e, Key: Ends(kind, e, knativeServiceOf)))
                .Where(x => x.Key is { } k && k.Source != Unknown && k.Destination != Unknown)
                .GroupBy(x => x.Key!.Value, x => x.Edge);
            foreach (var pair in pairs)
            {
                if (rows.ContainsKey(pair.Key))
                {
                    continue;
                }

                var requests = pair.Sum(e => e.Requests);
                var mutualTls = pair.Sum(e => e.MutualTls);
                rows[pair.Key] = new EdgeRow(
                    pair.Key.Source, pair.Key.SourceNamespace, pair.Key.Destination, pair.Key.DestinationNamespace,
                    Principal(pair.Select(e => e.Source.Principal)), Principal(pair.Select(e => e.Destination.Principal)),
                    Secured: reporter == "destination" && requests > 0 && mutualTls == requests, requests, requests / window);
            }
        }

        return rows.Values
            .OrderBy(r => r.SourceNamespace, StringComparer.Ordinal).ThenBy(r => r.Source, StringComparer.Ordinal)
            .ThenBy(r => r.DestinationNamespace, StringComparer.Ordinal).ThenBy(r => r.Destination, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The two ends of an edge as objects of <paramref name="kind"/>; null when the edge is not between such objects.</summary>
    private static (string SourceNamespace, string Source, string DestinationNamespace, string Destination)? Ends(
        EdgeKind kind, LiveEdge e, Func<string, string, string?>? knativeServiceOf) => kind switch
        {
            EdgeKind.Pod => (e.Source.Namespace, e.Source.Pod ?? Unknown, e.Destination.Namespace, e.Destination.Pod ?? Unknown),
            EdgeKind.Service => (e.Source.Namespace, e.Source.Service ?? e.Source.App, e.Service.Namespace, e.Service.Name),
            EdgeKind.KnativeService => knativeServiceOf?.Invoke(e.Destination.Namespace, e.Destination.Workload) is { } callee
                ? (e.Source.Namespace, knativeServiceOf(e.Source.Namespace, e.Source.Workload) ?? e.Source.Workload, e.Destination.Namespace, callee)
                : null,
            _ => (e.Source.Namespace, e.Source.Workload, e.Destination.Namespace, e.Destination.Workload),
        };

    private static StatRow Row(string ns, string name, IReadOnlyList<LiveEdge> edges, double window, double? mutualTls)
    {
        var requests = edges.Sum(e => e.Requests);
        if (requests == 0)
        {
            return new StatRow(ns, name, 0, null, 0, null, null, null, null);
        }

        var latency = new long[LatencyBuckets.Count];
        foreach (var edge in edges)
        {
            for (var i = 0; i < latency.Length && i < edge.Latency.Count; i++)
            {
                latency[i] += edge.Latency[i];
            }
        }

        return new StatRow(
            ns, name, requests, (double)edges.Sum(e => e.Successes) / requests, requests / window,
            LatencyBuckets.Quantile(latency, 0.50), LatencyBuckets.Quantile(latency, 0.95), LatencyBuckets.Quantile(latency, 0.99), mutualTls);
    }

    private static double? Share(IEnumerable<LiveEdge> inbound)
    {
        long requests = 0, mutualTls = 0;
        foreach (var edge in inbound)
        {
            requests += edge.Requests;
            mutualTls += edge.MutualTls;
        }

        return requests == 0 ? null : (double)mutualTls / requests;
    }

    /// <summary>The identity of one side: the one mTLS proved when any request had one, else <c>unknown</c>.</summary>
    private static string Principal(IEnumerable<string> principals) =>
        principals.FirstOrDefault(p => p != Unknown) ?? Unknown;
}
