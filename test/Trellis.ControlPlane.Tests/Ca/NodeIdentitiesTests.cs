using System.Collections.Immutable;
using Trellis.ControlPlane.Ca;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Tests.Ca;

/// <summary>A node holds the identities of the Deployments placed on it; a gateway node the ingress gateway's only.</summary>
public sealed class NodeIdentitiesTests
{
    private const string Reviews = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: reviews-v1, namespace: default}
        spec:
          selector: {matchLabels: {app: reviews}}
          template: {metadata: {labels: {app: reviews}}, spec: {serviceAccountName: bookinfo-reviews, containers: [{name: r, image: r, command: [r]}]}}
        status: {placement: {n1: 2, n2: 0}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: ratings, namespace: default}
        spec:
          selector: {matchLabels: {app: ratings}}
          template: {metadata: {labels: {app: ratings}}, spec: {containers: [{name: r, image: r, command: [r]}]}}
        status: {placement: {n2: 1}}
        """;

    public static TheoryData<string, string, string, bool> Cases() => new()
    {
        { "n1", "default", "bookinfo-reviews", true },
        { "n2", "default", "bookinfo-reviews", false }, // placed there with 0 replicas
        { "n3", "default", "bookinfo-reviews", false },
        { "n1", "other", "bookinfo-reviews", false },
        { "n2", "default", "default", true }, // no serviceAccountName: Kubernetes' default account
        { "n1", "default", "default", false },
        { "gateway-ingress", "istio-system", "istio-ingressgateway-service-account", true },
        { "gateway-ingress", "default", "bookinfo-reviews", false },
        { "n1", "istio-system", "istio-ingressgateway-service-account", false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Refusal_AllowsOnlyWhatIsPlacedOnTheNode(string node, string ns, string account, bool allowed)
    {
        var objects = TestResources.Read(Reviews).Select((r, i) => new StoredResource(r, i + 1)).ToImmutableDictionary(o => o.Resource.Key);
        var refusal = NodeIdentities.Refusal(new StoreSnapshot(objects.Count, objects), node, ns, account);
        Assert.Equal(allowed, refusal is null);
    }
}
