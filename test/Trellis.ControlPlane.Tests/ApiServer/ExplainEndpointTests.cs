using Trellis.Api.Snapshots;
using Trellis.ControlPlane.ApiServer;
using Trellis.ControlPlane.Push;
using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.ApiServer;

public sealed class ExplainEndpointTests
{
    private static readonly ProxyConnection[] Proxies =
    [
        new(new ProxyHello("gateway/ingress", ProxyRole.Gateway, null, new Dictionary<string, string>(), "http://127.0.0.1:1/"), DateTimeOffset.UnixEpoch),
        new(new ProxyHello("node/n1", ProxyRole.Node, "n1", new Dictionary<string, string>(), "http://127.0.0.1:2/"), DateTimeOffset.UnixEpoch),
    ];

    [Theory]
    [InlineData("gateway/ingress", "gateway/ingress", null)]
    [InlineData("ingress", "gateway/ingress", null)]
    [InlineData("reviews-2", "node/n1", "reviews-2/outbound")]
    [InlineData("productpage-v1", "node/n1", "productpage-1/outbound")]
    public void Resolve_GatewayOrWorkload_FindsItsProxyAndListener(string from, string proxy, string? listener)
    {
        var (connection, name, problem) = ExplainEndpoint.Resolve(from, Proxies, Instances());

        Assert.Null(problem);
        Assert.Equal(proxy, connection!.Hello.Name);
        Assert.Equal(listener, name);
    }

    [Fact]
    public void Resolve_UnknownName_SaysWhatWasLookedFor()
    {
        var (connection, _, problem) = ExplainEndpoint.Resolve("nothing", Proxies, Instances());

        Assert.Null(connection);
        Assert.Equal("no gateway proxy, pod or deployment named \"nothing\"", problem);
    }

    [Fact]
    public void Resolve_WorkloadOnANodeWithoutProxy_SaysSo()
    {
        var (connection, _, problem) = ExplainEndpoint.Resolve("reviews-1", Proxies[..1], Instances());

        Assert.Null(connection);
        Assert.Contains("node n1", problem, StringComparison.Ordinal);
    }
}
