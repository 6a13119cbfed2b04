namespace Trellis.Api.Tests.Kinds;

public sealed class ResourceKindsTests
{
    [Theory]
    [InlineData("vs", "networking.istio.io", "VirtualService")]
    [InlineData("virtualservice", "networking.istio.io", "VirtualService")]
    [InlineData("VirtualServices", "networking.istio.io", "VirtualService")]
    [InlineData("dr", "networking.istio.io", "DestinationRule")]
    [InlineData("destinationrules", "networking.istio.io", "DestinationRule")]
    [InlineData("gw", "networking.istio.io", "Gateway")]
    [InlineData("gateway", "networking.istio.io", "Gateway")]
    [InlineData("gateways", "networking.istio.io", "Gateway")]
    [InlineData("gateways.gateway.networking.k8s.io", "gateway.networking.k8s.io", "Gateway")]
    [InlineData("gateways.networking.istio.io", "networking.istio.io", "Gateway")]
    [InlineData("httproutes", "gateway.networking.k8s.io", "HTTPRoute")]
    [InlineData("se", "networking.istio.io", "ServiceEntry")]
    [InlineData("sidecar", "networking.istio.io", "Sidecar")]
    [InlineData("pa", "security.istio.io", "PeerAuthentication")]
    [InlineData("authorizationpolicies", "security.istio.io", "AuthorizationPolicy")]
    [InlineData("ksvc", "serving.knative.dev", "Service")]
    [InlineData("services.serving.knative.dev", "serving.knative.dev", "Service")]
    [InlineData("revisions", "serving.knative.dev", "Revision")]
    [InlineData("route", "serving.knative.dev", "Route")]
    [InlineData("triggers", "eventing.knative.dev", "Trigger")]
    [InlineData("pingsource", "sources.knative.dev", "PingSource")]
    [InlineData("deploy", "apps", "Deployment")]
    [InlineData("deployments.apps", "apps", "Deployment")]
    [InlineData("svc", "", "Service")]
    [InlineData("service", "", "Service")]
    [InlineData("pods", "", "Pod")]
    [InlineData("cm", "", "ConfigMap")]
    [InlineData("ns", "", "Namespace")]
    public void Resolve_KubectlName_FindsKind(string name, string group, string kind)
    {
        var info = ResourceKinds.Resolve(name);

        Assert.NotNull(info);
        Assert.Equal((group, kind), (info.Group, info.Kind));
    }

    [Theory]
    [InlineData("widgets")]
    [InlineData("vs.example.com")]
    [InlineData("")]
    public void Resolve_UnknownName_ReturnsNull(string name) => Assert.Null(ResourceKinds.Resolve(name));

    [Theory]
    [InlineData("networking.istio.io/v1", "VirtualService", true)]
    [InlineData("networking.istio.io/v1beta1", "VirtualService", true)]
    [InlineData("networking.istio.io/v1alpha3", "Gateway", true)]
    [InlineData("security.istio.io/v1beta1", "AuthorizationPolicy", true)]
    [InlineData("security.istio.io/v1alpha1", "AuthorizationPolicy", false)]
    [InlineData("v1", "Service", true)]
    [InlineData("apps/v1", "Service", false)]
    [InlineData("serving.knative.dev/v1", "Service", true)]
    public void Find_ApiVersionAndKind_MatchesServedVersionsOnly(string apiVersion, string kind, bool found) =>
        Assert.Equal(found, ResourceKinds.Find(apiVersion, kind) is not null);

    [Fact]
    public void FindByGroup_GatewayApiGateway_IsNotIstios()
    {
        var info = ResourceKinds.FindByGroup("gateway.networking.k8s.io", "Gateway");

        Assert.Equal(typeof(GatewayApi.GatewayApiGatewaySpec), info!.SpecType);
        Assert.Equal("gateway.networking.k8s.io/v1", info.PreferredApiVersion);
        Assert.Equal("v1", ResourceKinds.FindByGroup("", "Service")!.PreferredApiVersion);
    }

    [Fact]
    public void All_ShortNames_AreUnique()
    {
        var names = ResourceKinds.All.SelectMany(k => k.ShortNames).ToList();

        Assert.Equal(names.Count, names.Distinct().Count());
    }
}
