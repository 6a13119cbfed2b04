using Trellis.Api.Eventing;
using Trellis.ControlPlane.Eventing;
using Trellis.ControlPlane.Tests.Compiler;

namespace Trellis.ControlPlane.Tests.Eventing;

/// <summary>A Broker's delivery to a Kubernetes Service: its ready instance's inbound listener, over mTLS when the instance speaks it.</summary>
public sealed class DestinationResolverTests
{
    private const string Deployments = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: reviews-v1, namespace: default}
        spec: {selector: {matchLabels: {app: reviews, version: v1}}, template: {metadata: {labels: {app: reviews, version: v1}}, spec: {serviceAccountName: bookinfo-reviews, containers: [{name: r, image: r, command: [r]}]}}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: reviews-v2, namespace: default}
        spec: {selector: {matchLabels: {app: reviews, version: v2}}, template: {metadata: {labels: {app: reviews, version: v2}}, spec: {serviceAccountName: reviews-next, containers: [{name: r, image: r, command: [r]}]}}}
        """;

    private static readonly EventDestination ToReviews = new() { Ref = new KReference { ApiVersion = "v1", Kind = "Service", Name = "reviews" }, Uri = "/events" };

    [Fact]
    public void ServiceWithIdentities_IsReachedOverMtls_ExpectingEveryAccountBehindTheService()
    {
        var target = Resolve(Deployments);

        Assert.Equal("http://reviews.default.svc.cluster.local/events", target.Logical.ToString());
        Assert.StartsWith("http://127.0.0.1:", target.Address.ToString(), StringComparison.Ordinal);
        Assert.Equal("spiffe://cluster.local/ns/default/sa/bookinfo-reviews spiffe://cluster.local/ns/default/sa/reviews-next", target.MeshPeers);
    }

    [Fact]
    public void ServiceWhosePeerAuthenticationDisablesMtls_IsReachedInCleartext()
    {
        var target = Resolve(Deployments + """

            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: off, namespace: default}
            spec: {mtls: {mode: DISABLE}}
            """);

        Assert.Null(target.MeshPeers);
    }

    [Fact]
    public void ServiceWithoutADeployment_HasNoIdentity_AndIsReachedInCleartext() => Assert.Null(Resolve("").MeshPeers);

    private static Trellis.Eventing.Delivery.DeliveryTarget Resolve(string yaml)
    {
        var resources = new List<Trellis.Api.Resource> { TestResources.One(TestResources.ReviewsService) };
        resources.AddRange(yaml.Length == 0 ? [] : TestResources.Read(yaml));
        var instances = new[] { CompilerHarness.Instance("reviews-1", "reviews", "v1"), CompilerHarness.Instance("reviews-2", "reviews", "v2") };
        var state = CompilerHarness.State(resources, instances);
        var resolver = new DestinationResolver(new EventingOptions(), new Uri("http://127.0.0.1:15080/"), "cluster.local");
        var (target, error) = resolver.Resolve(ToReviews, "default", state.Store, state.Instances);
        Assert.Null(error);
        return target!;
    }
}
