using Trellis.Api.Snapshots;
using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Tests.Telemetry;

/// <summary>Istio's label derivation from a peer's metadata: workload, namespace, app, version, canonical service and revision.</summary>
public sealed class PeerLabelsTests
{
    public static TheoryData<string, Dictionary<string, string>?, string, string, string, string> Cases() => new()
    {
        // name, labels -> app, version, canonical service, canonical revision
        { "reviews-v2", new() { ["app"] = "reviews", ["version"] = "v2" }, "reviews", "v2", "reviews", "v2" },
        { "reviews-v2", null, "unknown", "unknown", "reviews-v2", "latest" },
        {
            "api", new() { ["app"] = "a", ["version"] = "v1", ["service.istio.io/canonical-name"] = "api-svc", ["service.istio.io/canonical-revision"] = "r7" },
            "a", "v1", "api-svc", "r7"
        },
        { "web", new() { ["app.kubernetes.io/name"] = "frontend", ["app.kubernetes.io/version"] = "1.2" }, "unknown", "unknown", "frontend", "1.2" },
        { "web", new() { ["app"] = "" }, "unknown", "unknown", "web", "latest" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void From_WorkloadLabels_IstioDerivation(string name, Dictionary<string, string>? labels, string app, string version, string canonicalService, string canonicalRevision)
    {
        var peer = PeerLabels.From(new WorkloadMetadata(name, "default", labels));

        Assert.Equal(name, peer.Workload);
        Assert.Equal("default", peer.Namespace);
        Assert.Equal(app, peer.App);
        Assert.Equal(version, peer.Version);
        Assert.Equal(canonicalService, peer.CanonicalService);
        Assert.Equal(canonicalRevision, peer.CanonicalRevision);
        Assert.Equal("unknown", peer.Principal); // no identities until mTLS
        Assert.Equal("Kubernetes", peer.Cluster);
    }

    [Fact]
    public void From_Endpoint_WorkloadNamespaceAndLabels()
    {
        var peer = PeerLabels.From(new EndpointConfig("127.0.0.1", 1, new Dictionary<string, string> { ["app"] = "ratings", ["version"] = "v1" }, "ratings-v1", "default"));

        Assert.Equal(("ratings-v1", "default", "ratings", "v1"), (peer.Workload, peer.Namespace, peer.App, peer.Version));
    }

    [Fact]
    public void From_NothingKnown_Unknown()
    {
        Assert.Same(PeerLabels.None, PeerLabels.From((WorkloadMetadata?)null));
        Assert.Same(PeerLabels.None, PeerLabels.From(new EndpointConfig("127.0.0.1", 1)));
        Assert.Equal("unknown", PeerLabels.From(new WorkloadMetadata("gw", "")).Namespace);
    }
}
