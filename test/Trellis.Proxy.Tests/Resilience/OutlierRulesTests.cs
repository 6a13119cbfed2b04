using Trellis.Api.Snapshots;
using Trellis.Proxy.Resilience;

namespace Trellis.Proxy.Tests.Resilience;

public sealed class OutlierRulesTests
{
    private static readonly OutlierDetectionConfig Defaults = new();

    [Theory]
    // Without the split: local failures count as the status Envoy maps them to.
    [InlineData("200", false, 200, "None")]
    [InlineData("503", false, 503, "None")]
    [InlineData("connect-failure", false, 503, "None")]
    [InlineData("reset", false, 503, "None")]
    [InlineData("reset-before-request", false, 503, "None")]
    [InlineData("refused-stream", false, 503, "None")]
    [InlineData("per-try-timeout", false, 504, "None")]
    // With it: answers count only as answers (and prove a connection), local failures only as local.
    [InlineData("200", true, 200, "Success")]
    [InlineData("503", true, 503, "Success")]
    [InlineData("connect-failure", true, 0, "Failure")]
    [InlineData("reset", true, 0, "SuccessThenFailure")]
    [InlineData("per-try-timeout", true, 0, "SuccessThenFailure")]
    public void Classify_Outcome_CountsAsEnvoyMapsIt(string outcome, bool split, int status, string localOrigin)
    {
        var sample = OutlierRules.Classify(RetryPolicyTests.Outcome(outcome), split);

        Assert.Equal(status, sample.Status);
        Assert.Equal(Enum.Parse<LocalOriginEffect>(localOrigin), sample.LocalOrigin);
    }

    [Theory]
    [InlineData(5, 5, true)]
    [InlineData(4, 5, false)]
    [InlineData(6, 5, false)] // past the threshold: already detected once, no second trip
    [InlineData(1, 0, false)] // 0 disables
    [InlineData(1, 1, true)]
    public void Trips_Streak_OnlyAtTheThresholdExactly(int streak, int threshold, bool trips) =>
        Assert.Equal(trips, OutlierRules.Trips(streak, threshold));

    [Theory]
    // ejected now, endpoints, maxEjectionPercent, may eject one more
    [InlineData(0, 3, 10, true)]   // at least one, whatever the percentage
    [InlineData(1, 3, 10, false)]
    [InlineData(0, 10, 10, true)]
    [InlineData(1, 10, 10, false)] // 20 % > 10 %
    [InlineData(1, 10, 20, true)]  // 20 % ≤ 20 %
    [InlineData(2, 10, 20, false)]
    [InlineData(2, 3, 100, true)]
    [InlineData(3, 3, 100, false)] // no fourth of three
    [InlineData(0, 1, 0, true)]    // one endpoint, 0 %: still ejected (then no healthy upstream, as in Envoy)
    [InlineData(1, 4, 50, true)]
    [InlineData(2, 4, 50, false)]
    [InlineData(0, 0, 100, false)]
    [InlineData(1, 2, 150, true)]  // over 100 % counts as 100 %
    public void MayEject_Share_WithinMaxPercentButAlwaysOne(int ejected, int total, int maxPercent, bool may) =>
        Assert.Equal(may, OutlierRules.MayEject(ejected, total, maxPercent));

    [Theory]
    // base s, multiplier, expected duration s (max 300 s unless the base is longer)
    [InlineData(30, 1, 30)]
    [InlineData(30, 2, 60)]
    [InlineData(30, 10, 300)]
    [InlineData(30, 11, 300)]
    [InlineData(400, 1, 400)]
    [InlineData(400, 3, 400)]
    [InlineData(1, 0, 0)]
    public void EjectionDuration_Multiplier_BaseTimesMultiplierUpToTheMax(int baseSeconds, int multiplier, int expectedSeconds)
    {
        var config = new OutlierDetectionConfig { BaseEjectionTime = TimeSpan.FromSeconds(baseSeconds) };

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), OutlierRules.EjectionDuration(multiplier, config));
    }

    [Theory]
    // Envoy: the multiplier grows while base × multiplier < max + base.
    [InlineData(30, 0, 1)]
    [InlineData(30, 1, 2)]
    [InlineData(30, 10, 11)] // 300 < 330
    [InlineData(30, 11, 11)] // 330 is not < 330: stays
    [InlineData(400, 1, 2)]  // max is the base (400): 400 < 800
    [InlineData(400, 2, 2)]
    public void MultiplierAfterEjection_Multiplier_GrowsUntilTheCap(int baseSeconds, int multiplier, int expected)
    {
        var config = new OutlierDetectionConfig { BaseEjectionTime = TimeSpan.FromSeconds(baseSeconds) };

        Assert.Equal(expected, OutlierRules.MultiplierAfterEjection(multiplier, config));
    }

    [Theory]
    // ejected at s, multiplier, now s, returns
    [InlineData(0, 1, 29, false)]
    [InlineData(0, 1, 30, true)]
    [InlineData(100, 2, 159, false)]
    [InlineData(100, 2, 160, true)]
    [InlineData(0, 50, 300, true)] // capped at 300 s
    [InlineData(0, 50, 299, false)]
    public void ShouldReturn_Time_AfterTheEjectionDuration(int ejectedAt, int multiplier, int now, bool returns) =>
        Assert.Equal(returns, OutlierRules.ShouldReturn(TimeSpan.FromSeconds(ejectedAt), multiplier, Defaults, TimeSpan.FromSeconds(now)));

    [Theory]
    // multiplier, returned at s (-1: never ejected), now s, decays (interval 10 s)
    [InlineData(2, 100, 109, false)]
    [InlineData(2, 100, 110, true)]
    [InlineData(2, 100, 500, true)]
    [InlineData(0, 100, 500, false)]
    [InlineData(1, -1, 500, false)]
    public void ShouldDecay_HealthyInterval_TakesOneOff(int multiplier, int returnedAt, int now, bool decays) =>
        Assert.Equal(decays, OutlierRules.ShouldDecay(
            multiplier, returnedAt < 0 ? null : TimeSpan.FromSeconds(returnedAt), Defaults, TimeSpan.FromSeconds(now)));

    [Fact]
    public void MaxEjectionTime_Default_ThreeHundredSeconds() =>
        Assert.Equal(TimeSpan.FromSeconds(300), OutlierRules.MaxEjectionTime(Defaults));
}
