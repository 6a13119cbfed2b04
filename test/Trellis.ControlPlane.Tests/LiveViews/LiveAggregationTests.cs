using Trellis.Api.LiveViews;
using Trellis.ControlPlane.LiveViews;

namespace Trellis.ControlPlane.Tests.LiveViews;

public sealed class LiveAggregationTests
{
    private static readonly LiveService Reviews = new("reviews.default.svc.cluster.local", "reviews", "default");
    private static readonly LiveService Unknown = new("unknown", "unknown", "unknown");

    private static LivePeer Peer(string workload, string principal = "unknown") =>
        workload == "unknown" ? new("unknown", "unknown", "unknown", "unknown", "unknown") : new(workload, "default", workload.Split('-')[0], "v1", principal, workload.Split('-')[0]);

    private static LiveEdge Edge(string reporter, string source, string destination, LiveService service, long requests, long successes, long mutualTls = 0, long latencyMicros = 1_000, string principal = "unknown")
    {
        var latency = new long[LatencyBuckets.Count];
        latency[LatencyBuckets.Index(latencyMicros)] = requests;
        return new LiveEdge(reporter, Peer(source, principal), Peer(destination, principal), service, requests, successes, mutualTls, latency);
    }

    private static readonly (string, string)[] NoneKnown = [];

    [Fact]
    public void Stat_Deployments_FromWhatTheirOwnProxiesSawArrive()
    {
        LiveEdge[] edges =
        [
            Edge("destination", "productpage-v1", "reviews-v1", Reviews, 90, 90),
            Edge("destination", "productpage-v1", "reviews-v2", Reviews, 10, 9, mutualTls: 10, latencyMicros: 50_000),
            Edge("destination", "ratings-v1", "reviews-v2", Reviews, 10, 10, mutualTls: 5, latencyMicros: 50_000), // a second caller of v2: summed
            Edge("source", "productpage-v1", "reviews-v1", Reviews, 90, 90), // the caller's view is not the deployment's
        ];

        var rows = LiveAggregation.Stat(StatKind.Deployment, edges, 10, (_, _) => null, [("default", "details-v1")]);

        Assert.Equal(["details-v1", "reviews-v1", "reviews-v2"], rows.Select(r => r.Name));
        var idle = rows[0];
        Assert.Equal(0, idle.Requests);
        Assert.Null(idle.SuccessRate);
        Assert.Null(idle.LatencyP50Ms);
        var v1 = rows[1];
        Assert.Equal(90, v1.Requests);
        Assert.Equal(9.0, v1.RequestsPerSecond);
        Assert.Equal(1.0, v1.SuccessRate);
        Assert.Equal(0.0, v1.MutualTlsShare);
        Assert.InRange(v1.LatencyP50Ms!.Value, 0.79, 1.0);
        var v2 = rows[2];
        Assert.Equal(20, v2.Requests);
        Assert.Equal(2.0, v2.RequestsPerSecond);
        Assert.Equal(0.95, v2.SuccessRate);
        Assert.Equal(0.75, v2.MutualTlsShare);
        Assert.InRange(v2.LatencyP99Ms!.Value, 39.8, 50.2); // the bucket of 50 ms ends at 10^4.7 µs
    }

    [Fact]
    public void Stat_Services_FromTheCallersProxiesWithMutualTlsFromTheServers()
    {
        LiveEdge[] edges =
        [
            Edge("source", "productpage-v1", "reviews-v1", Reviews, 8, 8),
            Edge("source", "productpage-v1", "unknown", Reviews, 2, 0), // found no endpoint (503 UH): counted for the service
            Edge("source", "productpage-v1", "unknown", Unknown, 5, 0), // no service at all: no row
            Edge("destination", "productpage-v1", "reviews-v1", Reviews, 8, 8, mutualTls: 8),
        ];

        var row = Assert.Single(LiveAggregation.Stat(StatKind.Service, edges, 10, (_, _) => null, NoneKnown));

        Assert.Equal("reviews", row.Name);
        Assert.Equal(10, row.Requests);
        Assert.Equal(0.8, row.SuccessRate);
        Assert.Equal(1.0, row.MutualTlsShare);
    }

    [Fact]
    public void Stat_KnativeServices_RevisionsSummedUnderTheirService()
    {
        var hello = new LiveService("hello.default.svc.cluster.local", "hello", "default");
        LiveEdge[] edges =
        [
            Edge("destination", "ingress", "hello-00001-deployment", hello, 3, 3),
            Edge("destination", "ingress", "hello-00002-deployment", hello, 1, 1),
            Edge("destination", "productpage-v1", "reviews-v1", Reviews, 5, 5), // not a revision: no row
        ];

        var rows = LiveAggregation.Stat(
            StatKind.KnativeService, edges, 2, (_, workload) => workload.StartsWith("hello-", StringComparison.Ordinal) ? "hello" : null, NoneKnown);

        var row = Assert.Single(rows);
        Assert.Equal("hello", row.Name);
        Assert.Equal(4, row.Requests);
        Assert.Equal(2.0, row.RequestsPerSecond);
    }

    [Fact]
    public void Edges_CalleesViewFirst_ThenCallsOnlyACallerSaw_UnknownCallersLeftOut()
    {
        const string productpage = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage";
        LiveEdge[] edges =
        [
            Edge("destination", "productpage-v1", "reviews-v2", Reviews, 4, 4, mutualTls: 4, principal: productpage),
            Edge("source", "productpage-v1", "reviews-v2", Reviews, 4, 4),
            Edge("destination", "ingress", "productpage-v1", Reviews, 2, 2, mutualTls: 1),
            Edge("source", "reviews-v2", "ratings-v1", Reviews, 3, 3), // the callee's proxy counted nothing
            Edge("destination", "unknown", "productpage-v1", Reviews, 7, 7), // a caller outside the mesh
            Edge("source", "productpage-v1", "unknown", Reviews, 1, 0), // no endpoint
        ];

        var rows = LiveAggregation.Edges(EdgeKind.Deployment, edges, 10);

        Assert.Equal(["ingress>productpage-v1", "productpage-v1>reviews-v2", "reviews-v2>ratings-v1"], rows.Select(r => $"{r.Source}>{r.Destination}"));
        Assert.False(rows[0].Secured); // one of two requests was in cleartext
        Assert.True(rows[1].Secured);
        Assert.Equal(productpage, rows[1].SourcePrincipal);
        Assert.Equal(4, rows[1].Requests);
        Assert.False(rows[2].Secured); // only the caller saw it: no proof of mTLS
        Assert.Equal(0.3, rows[2].RequestsPerSecond, 6);
    }

    /// <summary>Pods: each instance of a Deployment is its own end; an instance nothing is known of is left out.</summary>
    [Fact]
    public void Edges_Pods_InstancesOfOneDeploymentApart()
    {
        LiveEdge[] edges =
        [
            Edge("destination", "productpage-v1", "reviews-v2", Reviews, 4, 4) with { Source = Pod("productpage-v1", "productpage-v1-1"), Destination = Pod("reviews-v2", "reviews-v2-1") },
            Edge("destination", "productpage-v1", "reviews-v2", Reviews, 6, 6) with { Source = Pod("productpage-v1", "productpage-v1-1"), Destination = Pod("reviews-v2", "reviews-v2-2") },
            Edge("destination", "ingress", "productpage-v1", Reviews, 2, 2) with { Destination = Pod("productpage-v1", "productpage-v1-1") }, // a gateway has no pod
        ];

        var rows = LiveAggregation.Edges(EdgeKind.Pod, edges, 10);

        Assert.Equal(["productpage-v1-1>reviews-v2-1:4", "productpage-v1-1>reviews-v2-2:6"], rows.Select(r => $"{r.Source}>{r.Destination}:{r.Requests}"));
    }

    /// <summary>Services: the caller's canonical service to the service it called, both Deployments of reviews summed.</summary>
    [Fact]
    public void Edges_Services_CallerServiceToDestinationService()
    {
        var ratings = new LiveService("ratings.default.svc.cluster.local", "ratings", "default");
        LiveEdge[] edges =
        [
            Edge("source", "productpage-v1", "reviews-v1", Reviews, 9, 9),
            Edge("source", "productpage-v1", "reviews-v2", Reviews, 1, 1),
            Edge("source", "reviews-v2", "ratings-v1", ratings, 1, 1),
            Edge("source", "productpage-v1", "unknown", Unknown, 3, 0), // no service known
        ];

        var rows = LiveAggregation.Edges(EdgeKind.Service, edges, 10);

        Assert.Equal(["productpage>reviews:10", "reviews>ratings:1"], rows.Select(r => $"{r.Source}>{r.Destination}:{r.Requests}"));
    }

    /// <summary>Knative Services: only edges into a revision of one, its callers named by their own Knative Service when they have one.</summary>
    [Fact]
    public void Edges_KnativeServices_CalleeIsARevision()
    {
        LiveEdge[] edges =
        [
            Edge("destination", "producer-00001-deployment", "orders-00002-deployment", Reviews, 5, 5),
            Edge("destination", "productpage-v1", "orders-00001-deployment", Reviews, 1, 1),
            Edge("destination", "productpage-v1", "reviews-v2", Reviews, 7, 7), // not a Knative Service
        ];
        static string? KnativeService(string ns, string workload) => workload.EndsWith("-deployment", StringComparison.Ordinal) ? workload.Split('-')[0] : null;

        var rows = LiveAggregation.Edges(EdgeKind.KnativeService, edges, 10, KnativeService);

        Assert.Equal(["producer>orders:5", "productpage-v1>orders:1"], rows.Select(r => $"{r.Source}>{r.Destination}:{r.Requests}"));
    }

    private static LivePeer Pod(string workload, string pod) => Peer(workload) with { Pod = pod };
}
