using Trellis.ControlPlane.Eventing;

namespace Trellis.ControlPlane.Tests.Eventing;

public sealed class BrokerIngressTests
{
    /// <summary>The ingress takes exactly the paths the <c>/{ns}/{broker}</c> route took; the rest goes on to routing.</summary>
    [Theory]
    [InlineData("/default/orders", "default", "orders")]
    [InlineData("/default/orders/", "default", "orders")]
    [InlineData("/team-a/my-broker", "team-a", "my-broker")]
    [InlineData("/default", null, null)]
    [InlineData("/default/", null, null)]
    [InlineData("//orders", null, null)]
    [InlineData("/default//", null, null)]
    [InlineData("/a/b/c", null, null)]
    [InlineData("/async-function/hello/path", null, null)]
    [InlineData("", null, null)]
    [InlineData(null, null, null)]
    public void BrokerPath_SplitsTwoSegments_OrNothing(string? path, string? ns, string? broker)
    {
        Assert.Equal((ns, broker), BrokerIngress.BrokerPath(path));
    }
}
