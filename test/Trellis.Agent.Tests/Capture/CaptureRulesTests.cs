using Trellis.Agent.Capture;

namespace Trellis.Agent.Tests.Capture;

public sealed class CaptureRulesTests
{
    [Fact]
    public void Install_RedirectsOutboundTcpExceptOwnLoopbackAndLocal_InThatOrder()
    {
        var script = CaptureRules.Install(15001, 0x539, new Dictionary<int, int> { [8080] = 40001 });

        // The table left by a killed agent is replaced in the same transaction.
        Assert.StartsWith("table ip trellis_capture {}\ndelete table ip trellis_capture\ntable ip trellis_capture {\n", script, StringComparison.Ordinal);
        var output = script[script.IndexOf("chain output", StringComparison.Ordinal)..script.IndexOf("chain prerouting", StringComparison.Ordinal)];
        string[] order = ["meta mark 0x539 return", "ip daddr 127.0.0.0/8 return", "fib daddr type local return", "meta l4proto tcp redirect to :15001"];
        Assert.Equal(order, order.OrderBy(r => output.IndexOf(r, StringComparison.Ordinal)));
        Assert.All(order, r => Assert.Contains(r, output, StringComparison.Ordinal));
        Assert.Contains("meta l4proto tcp redirect to : tcp dport map @inbound", script, StringComparison.Ordinal);
        Assert.EndsWith("flush map ip trellis_capture inbound\nadd element ip trellis_capture inbound { 8080 : 40001 }\n", script, StringComparison.Ordinal);
    }

    [Fact]
    public void Inbound_NoInstances_OnlyEmptiesTheMap() =>
        Assert.Equal("flush map ip trellis_capture inbound\n", CaptureRules.Inbound(new Dictionary<int, int>()));

    [Fact]
    public void Inbound_Instances_InPortOrder() =>
        Assert.Equal(
            "flush map ip trellis_capture inbound\nadd element ip trellis_capture inbound { 8080 : 40001, 9080 : 40002 }\n",
            CaptureRules.Inbound(new Dictionary<int, int> { [9080] = 40002, [8080] = 40001 }));

    [Theory]
    [InlineData(0)]
    [InlineData(65536)]
    public void Install_PortOutOfRange_Throws(int port) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => CaptureRules.Install(port, 0x539, new Dictionary<int, int>()));

    [Fact]
    public void Remove_DeletesTheTableEvenIfItIsGone() =>
        Assert.Equal("table ip trellis_capture {}\ndelete table ip trellis_capture\n", CaptureRules.Remove());
}
