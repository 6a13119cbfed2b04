using Trellis.Serving.Autoscaling;
using static Trellis.Serving.Tests.Autoscaling.AutoscalerTests;

namespace Trellis.Serving.Tests.Autoscaling;

/// <summary>Rules that need more than one tick: panic hold and exit, scale-down delay, bounds, initial scale and the
/// scale-to-zero sequence. Each tick is a call with an injected time; nothing sleeps.</summary>
public class AutoscalerScenarioTests
{
    private static readonly DateTimeOffset T0 = Now;

    private static (ScaleDecision Decision, AutoscalerState Next) Tick(AutoscalerSettings s, AutoscalerState state, double load, int ready, DateTimeOffset at, bool reachable = true) =>
        Autoscaler.Scale(s, state, new ScalingMetrics(Load(load, load, s, at), ready, reachable), at);

    private static AutoscalerState Active(AutoscalerSettings s, int ready, DateTimeOffset since) =>
        AutoscalerState.Create(s, ready, since) with { PanicTime = null, MaxPanicPods = 0, ScaleTargetInitialized = true };

    [Fact]
    public void Scale_Panicking_NeverScalesDown()
    {
        var s = Settings();
        var state = Active(s, 2, T0) with { PanicTime = T0, MaxPanicPods = 10 };
        var (d, next) = Tick(s, state, 70, 10, T0.AddSeconds(10));
        Assert.True(d.Panicking);
        Assert.Equal(10, d.DesiredScale);
        Assert.Equal(ScaleReasons.Panic, d.Reason);
        Assert.Equal(10, next.MaxPanicPods);
    }

    [Fact]
    public void Scale_PanicOverForAStableWindow_LeavesPanic()
    {
        var s = Settings();
        var state = Active(s, 10, T0) with { PanicTime = T0, MaxPanicPods = 10 };

        var (during, _) = Tick(s, state, 70, 10, T0.AddSeconds(60));
        Assert.True(during.Panicking); // exactly one window later is not yet "after"

        var (after, next) = Tick(s, state, 70, 10, T0.AddSeconds(61));
        Assert.False(after.Panicking);
        Assert.Equal(5, after.DesiredScale); // stable wants 1; scale-down rate allows 10 → 5
        Assert.Null(next.PanicTime);
        Assert.Equal(0, next.MaxPanicPods);
    }

    [Fact]
    public void Create_MoreThanOneReadyPod_StartsInPanic()
    {
        var s = Settings();
        var state = AutoscalerState.Create(s, 4, T0);
        Assert.Equal(T0, state.PanicTime);
        var (d, _) = Tick(s, state, 0, 4, T0.AddSeconds(2));
        Assert.Equal(4, d.DesiredScale); // metric history lost on restart must not scale down
        Assert.Null(AutoscalerState.Create(s, 1, T0).PanicTime);
    }

    [Fact]
    public void Scale_ScaleDownDelay_HoldsMaxOverDelay()
    {
        var s = Settings(new() { [AutoscalingAnnotations.ScaleDownDelay] = "20s" });
        var state = Active(s, 10, T0.AddHours(-1));
        (_, state) = Tick(s, state, 700, 10, T0);
        var (held, next) = Tick(s, state, 350, 10, T0.AddSeconds(10));
        Assert.Equal(10, held.DesiredScale);
        Assert.Equal(ScaleReasons.ScaleDownDelay, held.Reason);
        var (released, _) = Tick(s, next, 350, 10, T0.AddSeconds(20));
        Assert.Equal(5, released.DesiredScale);
    }

    [Theory]
    [InlineData("2", null, 0, 2, ScaleReasons.MinScale)]
    [InlineData(null, "3", 7000, 3, ScaleReasons.MaxScale)]
    [InlineData("1", "5", 700, 5, ScaleReasons.MaxScale)]
    public void Scale_MinMaxScale_Bounds(string? min, string? max, double load, int want, string reason)
    {
        var ann = new Dictionary<string, string>();
        if (min is not null)
        {
            ann[AutoscalingAnnotations.MinScale] = min;
        }

        if (max is not null)
        {
            ann[AutoscalingAnnotations.MaxScale] = max;
        }

        var s = Settings(ann);
        var (d, _) = Tick(s, Active(s, 3, T0.AddHours(-1)), load, 3, T0);
        Assert.Equal(want, d.DesiredScale);
        Assert.Equal(reason, d.Reason);
    }

    [Fact]
    public void Scale_UnreachableRevision_IgnoresMinScale()
    {
        var s = Settings(new() { [AutoscalingAnnotations.MinScale] = "2" });
        var (d, next) = Tick(s, Active(s, 2, T0.AddHours(-1)), 0, 2, T0, reachable: false);
        Assert.Equal(ActivityPhase.Inactive, next.Phase); // on its way to zero
        Assert.True(d.ActivatorInPath);
    }

    [Fact]
    public void Scale_InitialScale_FloorUntilReachedOnce()
    {
        var s = Settings(new() { [AutoscalingAnnotations.InitialScale] = "3" });
        var state = AutoscalerState.Create(s, 0, T0);
        Assert.Equal(3, state.AppliedScale);

        var (d, next) = Tick(s, state, 0, 1, T0.AddSeconds(2));
        Assert.Equal(3, d.DesiredScale);
        Assert.Equal(ScaleReasons.InitialScale, d.Reason);
        Assert.True(next.ScaleTargetInitialized);

        var (later, _) = Tick(s, next, 0, 3, T0.AddSeconds(4));
        Assert.Equal(1, later.DesiredScale); // bounds lifted; active < stable window keeps one
    }

    [Fact]
    public void Create_ZeroInitialScale_StartsInactiveBehindActivator()
    {
        var config = new AutoscalerConfig { AllowZeroInitialScale = true };
        var s = Settings(new() { [AutoscalingAnnotations.InitialScale] = "0" }, config: config);
        var state = AutoscalerState.Create(s, 0, T0);
        Assert.Equal(0, state.AppliedScale);
        var (d, _) = Autoscaler.Scale(s, state, new ScalingMetrics(MetricWindow.Empty(s.StableWindow), 0), T0.AddSeconds(2));
        Assert.Equal(0, d.DesiredScale);
        Assert.True(d.ActivatorInPath);
    }

    [Fact]
    public void Scale_NoMetrics_KeepsScale()
    {
        var s = Settings();
        var state = Active(s, 4, T0) with { AppliedScale = 4 };
        var (d, next) = Autoscaler.Scale(s, state, new ScalingMetrics(MetricWindow.Empty(s.StableWindow), 4), T0.AddSeconds(2));
        Assert.Equal(4, d.DesiredScale);
        Assert.Equal(ScaleReasons.NoMetrics, d.Reason);
        Assert.Equal(state.Phase, next.Phase);
    }

    [Fact]
    public void Scale_ToZero_StableWindowThenGracePeriod()
    {
        // TBC 0 keeps the activator out of the path until the revision goes inactive, so the grace period runs from there.
        var s = Settings(new() { [AutoscalingAnnotations.TargetBurstCapacity] = "0" });
        var state = Active(s, 1, T0) with { AppliedScale = 1 };

        // Idle, but active for less than a stable window: keep one instance.
        var (d, next) = Tick(s, state, 0, 1, T0.AddSeconds(30));
        Assert.Equal((1, ScaleReasons.StableWindowNotElapsed), (d.DesiredScale, d.Reason));
        Assert.Equal(ActivityPhase.Active, next.Phase);

        // A stable window after activation: inactive, activator in the path, instance kept for the grace period.
        (d, next) = Tick(s, next, 0, 1, T0.AddSeconds(60));
        Assert.Equal((1, ScaleReasons.ScaleToZeroGracePeriod), (d.DesiredScale, d.Reason));
        Assert.True(d.ActivatorInPath);
        Assert.Equal(ActivityPhase.Inactive, next.Phase);

        (d, next) = Tick(s, next, 0, 1, T0.AddSeconds(89));
        Assert.Equal(1, d.DesiredScale);

        // 30 s (scale-to-zero-grace-period) behind the activator: zero.
        (d, next) = Tick(s, next, 0, 1, T0.AddSeconds(90));
        Assert.Equal((0, ScaleReasons.ScaledToZero), (d.DesiredScale, d.Reason));
        Assert.True(d.ActivatorInPath);

        // At zero with no samples it stays there; a request at the activator brings it back.
        (d, next) = Autoscaler.Scale(s, next, new ScalingMetrics(MetricWindow.Empty(s.StableWindow), 0), T0.AddSeconds(200));
        Assert.Equal(0, d.DesiredScale);
        var burst = MetricWindow.Empty(s.StableWindow).Record(T0.AddSeconds(300), 1);
        (d, next) = Autoscaler.Scale(s, next, new ScalingMetrics(burst, 0), T0.AddSeconds(300));
        Assert.Equal(1, d.DesiredScale);
        Assert.True(d.ActivatorInPath);
        Assert.Equal(ActivityPhase.Activating, next.Phase);
    }

    [Fact]
    public void Scale_LoadReturnsWhileInactive_Reactivates()
    {
        var s = Settings();
        var state = Active(s, 1, T0) with { AppliedScale = 1 };
        (_, state) = Tick(s, state, 0, 1, T0.AddSeconds(60));
        var (d, next) = Tick(s, state, 70, 1, T0.AddSeconds(70));
        Assert.Equal(1, d.DesiredScale);
        Assert.Equal(ActivityPhase.Active, next.Phase);
        Assert.Equal(T0.AddSeconds(70), next.PhaseSince);
    }

    [Fact]
    public void Scale_ToZero_PodRetentionPeriodExtendsGrace()
    {
        var s = Settings(new() { [AutoscalingAnnotations.ScaleToZeroPodRetentionPeriod] = "2m", [AutoscalingAnnotations.TargetBurstCapacity] = "0" });
        var state = Active(s, 1, T0) with { AppliedScale = 1 };
        (_, state) = Tick(s, state, 0, 1, T0.AddSeconds(60));
        var (d, next) = Tick(s, state, 0, 1, T0.AddSeconds(60 + 119));
        Assert.Equal(1, d.DesiredScale);
        (d, _) = Tick(s, next, 0, 1, T0.AddSeconds(60 + 120));
        Assert.Equal(0, d.DesiredScale);
    }

    [Fact]
    public void Scale_ToZero_FastPathWhenActivatorAlreadyInPath()
    {
        // With the default TBC (211) one instance never has enough burst capacity, so the activator has been in the
        // path all along and the revision drops to zero as soon as it goes inactive.
        var s = Settings();
        var state = Active(s, 1, T0) with { AppliedScale = 1 };
        (var d, state) = Tick(s, state, 0, 1, T0.AddSeconds(30));
        Assert.True(d.ActivatorInPath);
        (_, state) = Tick(s, state, 0, 1, T0.AddSeconds(60));
        (d, _) = Tick(s, state, 0, 1, T0.AddSeconds(62));
        Assert.Equal((0, ScaleReasons.ScaledToZero), (d.DesiredScale, d.Reason));
    }

    [Fact]
    public void Scale_ScaleToZeroDisabled_KeepsOne()
    {
        var s = Settings(config: new AutoscalerConfig { EnableScaleToZero = false });
        var (d, _) = Tick(s, Active(s, 1, T0.AddHours(-1)), 0, 1, T0);
        Assert.Equal((1, ScaleReasons.ScaleToZeroDisabled), (d.DesiredScale, d.Reason));
    }

    [Fact]
    public void Scale_ActivatingPastTimeout_GivesUpToZero()
    {
        var s = Settings();
        var state = AutoscalerState.Create(s, 0, T0);
        var none = new ScalingMetrics(MetricWindow.Empty(s.StableWindow), 0);
        var (d, _) = Autoscaler.Scale(s, state, none, T0.AddSeconds(600));
        Assert.Equal((1, ScaleReasons.Activating), (d.DesiredScale, d.Reason));
        (d, var next) = Autoscaler.Scale(s, state, none, T0.AddSeconds(610));
        Assert.Equal((0, ScaleReasons.ActivationTimeout), (d.DesiredScale, d.Reason));
        Assert.Equal(ActivityPhase.Inactive, next.Phase);
    }

    [Fact]
    public void Scale_CustomStableWindow_DrivesPanicWindowAndZero()
    {
        var s = Settings(new() { [AutoscalingAnnotations.Window] = "20s" });
        Assert.Equal(TimeSpan.FromSeconds(2), s.PanicWindow);
        var state = Active(s, 1, T0) with { AppliedScale = 1 };
        var (_, next) = Tick(s, state, 0, 1, T0.AddSeconds(20));
        Assert.Equal(ActivityPhase.Inactive, next.Phase);
    }
}
