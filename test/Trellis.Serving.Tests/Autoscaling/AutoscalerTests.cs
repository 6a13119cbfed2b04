using Trellis.Serving.Autoscaling;

namespace Trellis.Serving.Tests.Autoscaling;

/// <summary>
/// Knative's <c>TestAutoscalerScale</c> style: each row is a revision's settings, its recent load (total across
/// instances, per second), its ready instances, and what the decider must answer. Time is injected.
/// </summary>
public class AutoscalerTests
{
    internal static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_040);

    public sealed record Case(
        string Name,
        Dictionary<string, string>? Annotations,
        double StableLoad,
        double PanicLoad,
        int Ready,
        int WantScale,
        bool WantPanic = false,
        int? WantEbc = null,
        bool? WantActivator = null,
        string? WantReason = null,
        long ContainerConcurrency = 0,
        AutoscalerConfig? Config = null,
        bool Reachable = true)
    {
        public override string ToString() => Name;
    }

    private static Dictionary<string, string> Ann(params (string Key, string Value)[] kv) => kv.ToDictionary(p => p.Key, p => p.Value);

    public static TheoryData<Case> Cases => new()
    {
        // Stable mode: ceil(stable average / (target 100 × utilization 0.7)).
        new("stable, at target", null, 700, 700, 10, 10, WantReason: ScaleReasons.Stable),
        new("stable, scale up below panic threshold", null, 1000, 1000, 10, 15),
        new("stable, fractional rounds up", null, 71, 71, 2, 2),
        new("stable, no ready pods counts as one", null, 70, 70, 0, 1),
        // Targets.
        new("target annotation", Ann((AutoscalingAnnotations.Target, "10")), 70, 70, 10, 10),
        new("target capped by containerConcurrency", Ann((AutoscalingAnnotations.Target, "50")), 70, 70, 10, 10, ContainerConcurrency: 10),
        new("containerConcurrency is the total when set", null, 70, 70, 10, 10, ContainerConcurrency: 10),
        new("target-utilization-percentage", Ann((AutoscalingAnnotations.TargetUtilizationPercentage, "50")), 500, 500, 10, 10),
        new("rps metric, default target 200 × 0.7", Ann((AutoscalingAnnotations.Metric, "rps")), 1400, 1400, 10, 10),
        new("rps metric with target", Ann((AutoscalingAnnotations.Metric, "rps"), (AutoscalingAnnotations.Target, "10")), 70, 70, 10, 10),
        // Panic: panic-window desired / ready >= 200 %.
        new("panic, burst in panic window", null, 70, 700, 2, 10, WantPanic: true, WantReason: ScaleReasons.Panic),
        new("panic threshold exactly reached", null, 140, 280, 2, 4, WantPanic: true),
        new("just under panic threshold", null, 140, 210, 2, 2),
        new("panic threshold annotation", Ann((AutoscalingAnnotations.PanicThresholdPercentage, "110")), 140, 170, 2, 3, WantPanic: true),
        new("panic, stable larger than panic wins", null, 1400, 700, 5, 20, WantPanic: true),
        // Rate limits.
        new("max scale-up rate", null, 70 * 5000, 70 * 5000, 1, 1000, WantPanic: true),
        new("max scale-up rate from config", null, 700, 700, 2, 4, Config: new AutoscalerConfig { MaxScaleUpRate = 2, PanicThresholdPercentage = 1000 }),
        new("max scale-down rate 2", null, 0, 0, 10, 5),
        new("max scale-down rate from config", null, 0, 0, 10, 2, Config: new AutoscalerConfig { MaxScaleDownRate = 5 }),
        new("unreachable revision may drop to zero at once", null, 0, 0, 10, 0, Reachable: false),
        // Activation scale: a non-zero scale is at least activation-scale.
        new("activation-scale raises a small scale", Ann((AutoscalingAnnotations.ActivationScale, "3")), 1, 1, 1, 3, WantReason: ScaleReasons.ActivationScale),
        new("activation-scale leaves zero alone", Ann((AutoscalingAnnotations.ActivationScale, "3")), 0, 0, 1, 0),
        // Excess burst capacity = ready × total − TBC − panic load; negative keeps the activator in the path.
        new("ebc default 211, one pod", null, 0, 0, 1, 0, WantEbc: 100 - 211, WantActivator: true),
        new("ebc positive with capacity", null, 70, 70, 4, 2, WantEbc: 400 - 211 - 70, WantActivator: false),
        new("ebc counts panic load", null, 100, 150, 4, 2, WantEbc: 400 - 211 - 150, WantActivator: false),
        new("tbc -1: activator always in path", Ann((AutoscalingAnnotations.TargetBurstCapacity, "-1")), 70, 70, 10, 5, WantEbc: -1, WantActivator: true),
        new("tbc 0: activator only at zero", Ann((AutoscalingAnnotations.TargetBurstCapacity, "0")), 70, 70, 1, 1, WantEbc: 0, WantActivator: false),
        new("tbc annotation", Ann((AutoscalingAnnotations.TargetBurstCapacity, "50")), 0, 0, 1, 0, WantEbc: 50),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decide_Table(Case c)
    {
        var settings = Settings(c.Annotations, c.ContainerConcurrency, c.Config);
        var state = AutoscalerState.Create(settings, 1, Now) with { PanicTime = null };
        var metrics = new ScalingMetrics(Load(c.StableLoad, c.PanicLoad, settings), c.Ready, c.Reachable);

        var (result, _) = Decider.Decide(settings, state, metrics, Now);

        Assert.NotNull(result);
        var r = result.Value;
        Assert.Equal(c.WantScale, r.Desired);
        Assert.Equal(c.WantPanic, r.Panicking);
        if (c.WantEbc is { } ebc)
        {
            Assert.Equal(ebc, r.ExcessBurstCapacity);
        }

        if (c.WantReason is { } reason)
        {
            Assert.Equal(reason, r.Reason);
        }

        if (c.WantActivator is { } activator)
        {
            // The whole function agrees: a negative burst capacity (or -1) puts the activator in the path.
            var (decision, _) = Autoscaler.Scale(settings, state with { Phase = ActivityPhase.Active, PhaseSince = Now.AddHours(-1) }, metrics, Now);
            Assert.Equal(activator, decision.ActivatorInPath);
        }
    }

    internal static AutoscalerSettings Settings(Dictionary<string, string>? annotations = null, long cc = 0, AutoscalerConfig? config = null)
    {
        var parsed = AutoscalerSettings.Parse(annotations, cc, config);
        Assert.Empty(parsed.Errors);
        return parsed.Settings!;
    }

    /// <summary>A full stable window whose last panic-window seconds carry <paramref name="panicLoad"/> and whose
    /// earlier seconds are set so that the stable average is <paramref name="stableLoad"/>.</summary>
    internal static MetricWindow Load(double stableLoad, double panicLoad, AutoscalerSettings s, DateTimeOffset? end = null)
    {
        var at = end ?? Now;
        var n = (int)s.StableWindow.TotalSeconds;
        var p = (int)s.PanicWindow.TotalSeconds;
        var early = (stableLoad * n - panicLoad * p) / (n - p);
        var w = MetricWindow.Empty(s.StableWindow);
        for (var i = n - 1; i >= 0; i--)
        {
            w = w.Record(at.AddSeconds(-i), i < p ? panicLoad : early);
        }

        return w;
    }
}
