using Trellis.Api.Registry;
using Trellis.ControlPlane.ApiServer;

namespace Trellis.ControlPlane.Tests.ApiServer;

public class PodViewTests
{
    private static readonly DateTimeOffset Started = new(2026, 12, 7, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Render_ReadyInstance_ReadyConditionWithItsTransitionTimeToTheTick()
    {
        var readyAt = Started.AddTicks(123_4567);
        var pod = PodView.Render(Instance(ready: true) with { ReadyAt = readyAt });

        var condition = Assert.Single(pod["status"]!["conditions"]!.AsArray())!;
        Assert.Equal("Ready", (string?)condition["type"]);
        Assert.Equal("True", (string?)condition["status"]);
        Assert.Equal(readyAt, condition["lastTransitionTime"]!.GetValue<DateTimeOffset>());
        Assert.Equal(Started, pod["status"]!["startTime"]!.GetValue<DateTimeOffset>());
    }

    [Theory]
    [InlineData(false, true, "False")]
    [InlineData(false, false, null)]
    public void Render_NotReady_ConditionFalseOrAbsentUntilAProbeDecided(bool ready, bool probed, string? status)
    {
        var pod = PodView.Render(Instance(ready) with { ReadyAt = probed ? Started.AddSeconds(1) : null });

        var conditions = pod["status"]!["conditions"]!.AsArray();
        Assert.Equal(status, status is null ? null : (string?)Assert.Single(conditions)!["status"]);
        if (status is null)
        {
            Assert.Empty(conditions);
        }
    }

    private static WorkloadInstance Instance(bool ready) => new(
        "fn-abcde", "node-1", "fn", "default", new Dictionary<string, string>(), "127.0.0.1",
        new Dictionary<string, int> { [WorkloadInstance.AppPort] = 8080 }, ready ? "Ready" : "Running", ready, 0, Started, 42, null);
}
