using Trellis.Api.Snapshots;
using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>
/// The gateway proxy is a workload of the root namespace with its labels (Istio's <c>istio-ingressgateway</c> pod in
/// <c>istio-system</c>): AuthorizationPolicies and RequestAuthentications select its listeners as they select a pod.
/// </summary>
public sealed class GatewayPolicyCompilerTests
{
    private const string Jwks = """{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}""";

    private const string TcpGateway = """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: tcp}
        spec:
          selector: {istio: ingressgateway}
          servers:
          - port: {number: 31400, name: tcp, protocol: TCP}
            hosts: ["*"]
        """;

    private static string Policy(string ns, string selector) => $$"""
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: p, namespace: {{ns}} }
        spec:
          {{selector}}
          action: DENY
          rules:
          - from:
            - source: {ipBlocks: [10.0.0.0/8]}
        """;

    private static string Jwt(string ns, string selector) => $$"""
        apiVersion: security.istio.io/v1
        kind: RequestAuthentication
        metadata: {name: j, namespace: {{ns}} }
        spec:
          {{selector}}
          jwtRules:
          - issuer: https://issuer.test
            jwks: '{{Jwks}}'
        """;

    [Theory]
    [InlineData("istio-system", "selector: {matchLabels: {istio: ingressgateway}}", true)] // Istio's task: the gateway's namespace and labels
    [InlineData("istio-system", "", true)] // mesh-wide policies apply to gateways too
    [InlineData("istio-system", "selector: {matchLabels: {app: reviews}}", false)] // labels the gateway does not have
    [InlineData("default", "selector: {matchLabels: {istio: ingressgateway}}", false)] // the gateway runs in istio-system only
    [InlineData("default", "", false)]
    [InlineData("istio-system", "targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: web}", false)] // not enforced
    public void Compile_GatewayListeners_SelectedAsAWorkloadOfTheRootNamespace(string ns, string selector, bool applies)
    {
        var snapshot = Compile(string.Join("\n---\n", IngressGateway, TcpGateway, Policy(ns, selector), Jwt(ns, selector)), Gateway);

        var listeners = snapshot.Listeners.Where(l => l.Kind == ListenerKind.Gateway).ToList();
        Assert.Equal(["gateway/31400", "gateway/8080"], listeners.Select(l => l.Name).Order(StringComparer.Ordinal));
        Assert.All(listeners, l => Assert.Equal(applies ? [$"{ns}/p"] : null, l.Authorization?.Policies.Select(p => p.Name)));
        var http = listeners.Single(l => l.Name == "gateway/8080");
        Assert.Equal(applies ? ["https://issuer.test"] : null, http.Authentication?.Providers.Select(p => p.Issuer));
    }

    [Fact]
    public void Compile_TcpGatewayServer_AuthorizesWithTheGatewayPortAsDestinationPort()
    {
        var snapshot = Compile(string.Join("\n---\n", TcpGateway, Policy("istio-system", "")), Gateway);

        Assert.Equal(31400, snapshot.Listeners.Single(l => l.Name == "gateway/31400").Tcp!.DestinationPort);
    }

    [Fact]
    public void Compile_NodeProxy_GatewayPoliciesStayOffWorkloads()
    {
        var snapshot = Compile(Policy("istio-system", "selector: {matchLabels: {istio: ingressgateway}}"));

        Assert.All(snapshot.Listeners, l => Assert.Null(l.Authorization));
    }
}
