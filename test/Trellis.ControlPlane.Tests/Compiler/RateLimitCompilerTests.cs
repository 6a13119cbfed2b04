using Trellis.Api.Snapshots;
using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.Compiler;

public sealed class RateLimitCompilerTests
{
    private const string NamedRoutes = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews}
        spec:
          hosts: ["*"]
          gateways: [web, mesh]
          http:
          - name: api
            match: [{uri: {prefix: /api}}]
            route: [{destination: {host: reviews, port: {number: 9080}}}]
          - name: rest
            route: [{destination: {host: reviews, port: {number: 9080}}}]
        """;

    private static string Limit(string name, string selector, string routes = "[]", int max = 10) => $$"""
        apiVersion: networking.trellis.dev/v1alpha1
        kind: LocalRateLimit
        metadata: {name: {{name}} }
        spec:
          workloadSelector: {labels: {{selector}} }
          routes: {{routes}}
          tokenBucket: {maxTokens: {{max}}, tokensPerFill: 5, fillInterval: 2s}
        """;

    [Fact]
    public void Compile_WorkloadSelector_LimitsTheInboundListenersOfSelectedInstances()
    {
        var snapshot = Compile(Limit("reviews", "{app: reviews}"));

        var limited = snapshot.Listeners.Where(l => l.RateLimit is not null).Select(l => l.Name).Order().ToList();
        Assert.Equal(["reviews-1/inbound", "reviews-2/inbound", "reviews-3/inbound"], limited);
        Assert.Equal(new RateLimitConfig(10, 5, TimeSpan.FromSeconds(2)), snapshot.Listeners.Single(l => l.Name == "reviews-1/inbound").RateLimit);
    }

    [Fact]
    public void Compile_EmptySelector_SelectsEveryWorkloadOfTheNamespaceButNoGateway()
    {
        var node = Compile(Limit("all", "{}"));
        var gateway = Compile(IngressGateway + "\n---\n" + NamedRoutes + "\n---\n" + Limit("all", "{}"), Gateway);

        Assert.All(node.Listeners.Where(l => l.Kind == ListenerKind.Inbound), l => Assert.NotNull(l.RateLimit));
        Assert.All(node.Listeners.Where(l => l.Kind == ListenerKind.Outbound), l => Assert.Null(l.RateLimit));
        Assert.Null(Assert.Single(gateway.Listeners).RateLimit);
    }

    [Fact]
    public void Compile_GatewayLabels_LimitTheGatewayPortAndTheOldestRuleWins()
    {
        var snapshot = Compile(IngressGateway + "\n---\n" + NamedRoutes + "\n---\n" + Limit("b-first", "{istio: ingressgateway}", max: 1) + "\n---\n" + Limit("a-second", "{istio: ingressgateway}", max: 2), Gateway);

        Assert.Equal(1, Assert.Single(snapshot.Listeners).RateLimit!.MaxTokens);
    }

    [Fact]
    public void Compile_Routes_LimitOnlyTheNamedRoutesOfTheSelectedProxies()
    {
        var gateway = Compile(IngressGateway + "\n---\n" + NamedRoutes + "\n---\n" + Limit("api", "{istio: ingressgateway}", "[api]"), Gateway);
        var node = Compile(NamedRoutes + "\n---\n" + Limit("api", "{app: productpage}", "[api]"));

        Assert.Null(Assert.Single(gateway.Listeners).RateLimit);
        Assert.Equal(["api:10", "rest:-"], GatewayRoutes(gateway).Select(r => $"{r.Name}:{r.RateLimit?.MaxTokens.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}"));
        Assert.Equal(["api:10", "rest:-"], OutboundRoutes(node).Select(r => $"{r.Name}:{r.RateLimit?.MaxTokens.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}"));
        var reviewsOutbound = node.Listeners.Single(l => l.Name == "reviews-1/outbound").RouteTable;
        Assert.All(node.RouteTables.Single(t => t.Name == reviewsOutbound).VirtualHosts.SelectMany(h => h.Routes), r => Assert.Null(r.RateLimit));
    }
}
