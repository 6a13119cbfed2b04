using Trellis.Agent.Identity;
using Trellis.Api.Snapshots;

namespace Trellis.Agent.Tests.Identity;

public sealed class GatewayCertificatesTests
{
    [Fact]
    public void Accounts_TheWorkloadIdentitiesOfTheSnapshotsListeners_OnceEach()
    {
        const string ingress = "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";
        var snapshot = new ProxySnapshot("v1", [Listener("a", ingress), Listener("b", ingress), Listener("c", null), Listener("d", "spiffe://cluster.local/trellis/node/n1")], [], []);

        // A node identity is no workload's: the gateway never asks for one.
        Assert.Equal([("istio-system", "istio-ingressgateway-service-account")], GatewayCertificates.Accounts(snapshot));
    }

    [Theory]
    [InlineData("gateway/ingress", "gateway-ingress")]
    [InlineData("edge", "gateway-edge")]
    [InlineData("edges/west", "gateway-edges-west")]
    public void NodeName_AGatewayNodeWithTheProxyNameAsOnePathSegment(string gateway, string node) => Assert.Equal(node, GatewayCertificates.NodeName(gateway));

    private static ListenerConfig Listener(string name, string? identity) =>
        new(name, "127.0.0.1", 8080, ListenerKind.Gateway, "t", Identity: identity);
}
