using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Tests.Compiler;

public sealed class CaptureCompilerTests
{
    private static ProxyHello NodeWith(string? capturePort) =>
        CompilerHarness.Node with { Labels = capturePort is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [ProxyHello.CapturePortLabel] = capturePort } };

    [Fact]
    public void Compile_CapturingNode_GetsACaptureListenerRoutingLikeTheDefaultNamespace()
    {
        var snapshot = CompilerHarness.Compile("", NodeWith("15001"));

        var capture = Assert.Single(snapshot.Listeners, l => l.Capture);
        Assert.Equal(("capture", "127.0.0.1", 15001, ListenerKind.Outbound), (capture.Name, capture.Address, capture.Port, capture.Kind));
        Assert.Null(capture.Identity);
        var hosts = snapshot.RouteTables.Single(t => t.Name == capture.RouteTable).VirtualHosts;
        // The short name is the default namespace's service, and the VirtualService for it applies.
        var reviews = Assert.Single(hosts, h => h.Domains.Contains(CompilerHarness.Reviews));
        Assert.Contains("reviews", reviews.Domains);
        Assert.Equal(CompilerHarness.OutboundRoutes(snapshot), reviews.Routes);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("0")]
    [InlineData("70000")]
    [InlineData("15001x")]
    public void Compile_NodeWithoutAValidCapturePort_GetsNoCaptureListener(string? port) =>
        Assert.DoesNotContain(CompilerHarness.Compile("", NodeWith(port)).Listeners, l => l.Capture);
}
