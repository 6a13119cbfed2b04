using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.LoadBalancing;

public sealed class SlowStartTests
{
    [Theory]
    // Envoy: max(minWeight, (max(t, 1 ms) / window) ^ (1 / aggression)), 1 after the window.
    [InlineData(100.0, 0.0, 1.0, 10.0, 0.1)]     // the minimum weight at first
    [InlineData(100.0, 5.0, 1.0, 10.0, 0.1)]
    [InlineData(100.0, 25.0, 1.0, 10.0, 0.25)]   // linear with the default aggression
    [InlineData(100.0, 50.0, 1.0, 10.0, 0.5)]
    [InlineData(100.0, 99.0, 1.0, 10.0, 0.99)]
    [InlineData(100.0, 100.0, 1.0, 10.0, 1.0)]   // the window is over
    [InlineData(100.0, 500.0, 1.0, 10.0, 1.0)]
    [InlineData(100.0, 25.0, 2.0, 10.0, 0.5)]    // aggression 2: the square root, faster at first
    [InlineData(100.0, 25.0, 0.5, 10.0, 0.1)]    // aggression 0.5: squared (0.0625), held at the minimum
    [InlineData(100.0, 0.0, 1.0, 0.0, 0.00001)]  // no minimum: max(1 ms, t) / window
    [InlineData(100.0, 25.0, -3.0, 10.0, 0.25)]  // a non-positive aggression counts as 1
    public void Factor_TimeSinceJoined_EnvoysRamp(double windowSeconds, double sinceSeconds, double aggression, double minPercent, double expected)
    {
        var time = new ManualTimeProvider();
        var slowStart = new SlowStart(TimeSpan.FromSeconds(windowSeconds), time, aggression, minPercent);
        var joined = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(sinceSeconds));

        Assert.Equal(expected, slowStart.Factor(joined, time.GetTimestamp()), 6);
    }

    [Theory]
    [InlineData(0.0, true)]
    [InlineData(99.9, true)]
    [InlineData(100.0, false)]
    public void Warming_LastJoined_UntilTheWindowEnds(double sinceSeconds, bool warming)
    {
        var time = new ManualTimeProvider();
        var slowStart = new SlowStart(TimeSpan.FromSeconds(100), time);
        var joined = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(sinceSeconds));

        Assert.Equal(warming, slowStart.Warming(joined, slowStart.Now()));
    }
}
