namespace Trellis.Serving.Autoscaling;

/// <summary>
/// The metric half of the KPA, Knative's <c>autoscaler.Scale</c> (<c>pkg/autoscaler/scaling/autoscaler.go</c>):
/// stable and panic desired scales within the rate limits, panic mode, the scale-down delay, and the excess burst
/// capacity. It knows nothing of min/max scale or scale to zero; <see cref="Autoscaler"/> applies those.
/// </summary>
internal static class Decider
{
    public readonly record struct Result(int Desired, int ExcessBurstCapacity, bool Panicking, string Reason, double Stable, double Panic);

    /// <summary>Returns null when there is no data to scale on (Knative's invalid scale result).</summary>
    public static (Result? Result, AutoscalerState Next) Decide(AutoscalerSettings s, AutoscalerState state, ScalingMetrics m, DateTimeOffset now)
    {
        if (m.Window.IsEmpty(now, s.StableWindow))
        {
            return (null, state);
        }

        var ready = Math.Max(0, m.ReadyPods);
        // Use 1 when there are no ready instances, so the rate limits and the panic ratio stay defined.
        double readyF = Math.Max(1, ready);
        var stable = m.Window.Average(now, s.StableWindow);
        var panic = m.Window.Average(now, s.PanicWindow);

        // Ceil on the up side lets a conservative rate still grow by at least one instance.
        var maxScaleUp = Math.Ceiling(s.MaxScaleUpRate * readyF);
        // An unreachable revision may drop straight to zero.
        var maxScaleDown = m.Reachable ? Math.Floor(readyF / s.MaxScaleDownRate) : 0;

        var dspc = Math.Ceiling(stable / s.TargetValue);
        var dppc = Math.Ceiling(panic / s.TargetValue);
        var desiredStable = (int)Math.Min(Math.Max(dspc, maxScaleDown), maxScaleUp);
        var desiredPanic = (int)Math.Min(Math.Max(dppc, maxScaleDown), maxScaleUp);
        var reason = ScaleReasons.Stable;

        if (s.ActivationScale > 1)
        {
            if (dspc > 0 && s.ActivationScale > desiredStable)
            {
                desiredStable = s.ActivationScale;
                reason = ScaleReasons.ActivationScale;
            }

            if (dppc > 0 && s.ActivationScale > desiredPanic)
            {
                desiredPanic = s.ActivationScale;
            }
        }

        var panicTime = state.PanicTime;
        var maxPanicPods = state.MaxPanicPods;
        var overThreshold = dppc / readyF >= s.PanicThreshold;
        if (overThreshold)
        {
            // Enter panic, or extend it while the burst lasts.
            panicTime = now;
        }
        else if (panicTime is { } since && since + s.StableWindow < now)
        {
            // Leave once a whole stable window has passed without the threshold being crossed: by then the burst is
            // part of the stable average.
            panicTime = null;
            maxPanicPods = 0;
        }

        var desired = desiredStable;
        if (panicTime is not null)
        {
            // Provision for the larger of the two windows, and never scale down while panicking.
            desired = Math.Max(desired, desiredPanic);
            maxPanicPods = Math.Max(maxPanicPods, desired);
            desired = maxPanicPods;
            reason = ScaleReasons.Panic;
        }

        var delayWindow = state.DelayWindow;
        if (delayWindow is not null)
        {
            delayWindow = delayWindow.Record(now, desired);
            if (delayWindow.Current != desired)
            {
                desired = delayWindow.Current;
                reason = ScaleReasons.ScaleDownDelay;
            }
        }

        // Excess burst capacity = total capacity - target burst capacity - observed panic-window load. Negative means a
        // burst of that size could not be absorbed, so the activator stays in the path to buffer it.
        var ebc = s.TargetBurstCapacity switch
        {
            0 => 0,
            > 0 => Math.Floor(ready * s.TotalValue - s.TargetBurstCapacity - panic),
            _ => -1,
        };

        var next = state with
        {
            PanicTime = panicTime,
            MaxPanicPods = maxPanicPods,
            DelayWindow = delayWindow,
            DeciderScale = desired,
            DeciderExcessBurstCapacity = (int)ebc,
        };
        return (new Result(desired, (int)ebc, panicTime is not null, reason, stable, panic), next);
    }
}
