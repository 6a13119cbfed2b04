using Trellis.ControlPlane.Serving;
using Trellis.Serving.Autoscaling;

namespace Trellis.ControlPlane.Tests.Serving;

public sealed class RevisionScalersTests
{
    [Theory]
    [InlineData("concurrency", 3)]  // 20 in flight / (10 × 70 %) → 3
    [InlineData("rps", 8)]          // 1000 rps / (200 × 70 %) → 8 (capped by nothing)
    public void Tick_UsesTheWindowOfTheRevisionsMetric(string metric, int expected)
    {
        var time = new FixedTime(DateTimeOffset.Parse("2026-11-22T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var scalers = new RevisionScalers(time);
        var settings = AutoscalerSettings.Parse(new Dictionary<string, string>
        {
            ["autoscaling.knative.dev/metric"] = metric,
            ["autoscaling.knative.dev/target"] = metric == "rps" ? "200" : "10",
        }).Settings!;
        for (var s = 0; s < 60; s++)
        {
            scalers.Record("default/hello-00001", time.GetUtcNow().AddSeconds(s - 59), concurrency: 20, rps: 1000);
        }

        var decision = scalers.Tick("default/hello-00001", settings, readyPods: 1);

        Assert.Equal(expected, decision.DesiredScale);
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
