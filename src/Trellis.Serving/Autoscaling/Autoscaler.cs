namespace Trellis.Serving.Autoscaling;

/// <summary>
/// Knative's KPA as one pure function. Each tick runs the three steps Knative spreads over its decider and its
/// PodAutoscaler reconciler:
/// <list type="number">
/// <item>the decider (<c>pkg/autoscaler/scaling/autoscaler.go</c>): stable/panic desired scale, rate limits, panic
/// mode, scale-down delay, excess burst capacity;</item>
/// <item>the scaler (<c>pkg/reconciler/autoscaling/kpa/scaler.go</c>): initial-scale, min/max scale, and the scale-to-zero
/// rules (active for a stable window, then inactive with the activator in the path for the grace period and the last-pod
/// retention period);</item>
/// <item>the Active condition and the activator mode (<c>kpa.go</c>): the activator is in the path at zero, while
/// inactive, or whenever the excess burst capacity is negative.</item>
/// </list>
/// Time is an argument; nothing here reads a clock.
/// </summary>
public static class Autoscaler
{
    public static (ScaleDecision Decision, AutoscalerState Next) Scale(AutoscalerSettings settings, AutoscalerState state, ScalingMetrics metrics, DateTimeOffset now)
    {
        // Step 1: the decider. Without data its last answer stands (-1 until the first one).
        var (result, next) = Decider.Decide(settings, state, metrics, now);
        var want = result?.Desired ?? next.DeciderScale;
        var ebc = result?.ExcessBurstCapacity ?? next.DeciderExcessBurstCapacity;
        var reason = result?.Reason ?? ScaleReasons.NoMetrics;

        // Step 2: the scaler.
        var apply = true;
        if (want < 0 && state.Phase != ActivityPhase.Activating)
        {
            apply = false; // metrics are not being collected yet: leave the scale alone
        }
        else
        {
            (want, reason) = ApplyBounds(settings, state, metrics, want, reason);
            (want, apply, reason) = HandleScaleToZero(settings, state, want, reason, now);
        }

        var applied = apply ? want : state.AppliedScale;

        // Step 3: activator mode (decided on the phase before this tick, as Knative does), then the Active condition.
        // With no ready instance the activator stays in the path whatever the burst capacity, as Knative's
        // ServerlessService falls back to proxy mode while it has no ready endpoints.
        var activatorInPath = want == 0 || ebc < 0 || (want < 0 && state.Phase == ActivityPhase.Inactive) || metrics.ReadyPods <= 0;
        var minReady = Math.Max(1, metrics.Reachable ? settings.MinScale : 0);
        var phase = NextPhase(state.Phase, want, metrics.ReadyPods, minReady);
        next = next with
        {
            AppliedScale = applied,
            Phase = phase,
            PhaseSince = phase == state.Phase ? state.PhaseSince : now,
            ActivatorInPathSince = activatorInPath ? state.ActivatorInPathSince ?? now : null,
            ScaleTargetInitialized = state.ScaleTargetInitialized || metrics.ReadyPods >= minReady,
        };

        var decision = new ScaleDecision(applied, activatorInPath, next.PanicTime is not null, reason, ebc, result?.Stable ?? 0, result?.Panic ?? 0);
        return (decision, next);
    }

    private static (int Want, string Reason) ApplyBounds(AutoscalerSettings s, AutoscalerState state, ScalingMetrics m, int want, string reason)
    {
        var min = m.Reachable ? s.MinScale : 0;
        var max = s.MaxScale;
        var minReason = ScaleReasons.MinScale;
        // Until the revision has reached its initial scale once, that scale is a floor (min-scale wins if larger).
        if (s.InitialScale > 1 && !state.ScaleTargetInitialized && s.InitialScale > min)
        {
            min = s.InitialScale;
            minReason = ScaleReasons.InitialScale;
        }

        if (want < min)
        {
            return (min, want < 0 && min == 0 ? reason : minReason);
        }

        return max != 0 && want > max ? (max, ScaleReasons.MaxScale) : (want, reason);
    }

    /// <summary>Knative's <c>handleScaleToZero</c>: when zero is wanted, whether (and when) it may be applied.</summary>
    private static (int Want, bool Apply, string Reason) HandleScaleToZero(AutoscalerSettings s, AutoscalerState state, int want, string reason, DateTimeOffset now)
    {
        if (want != 0)
        {
            return (want, true, reason);
        }

        if (!s.EnableScaleToZero)
        {
            return (1, true, ScaleReasons.ScaleToZeroDisabled);
        }

        var inPhase = now - state.PhaseSince;
        switch (state.Phase)
        {
            case ActivityPhase.Activating:
                // Stuck activating past the deadline: presume it cannot succeed and scale to zero.
                return inPhase >= s.ActivationTimeout
                    ? (0, true, ScaleReasons.ActivationTimeout)
                    : (-1, false, ScaleReasons.Activating);

            case ActivityPhase.Active:
                // Active for a stable window: report zero (which marks it inactive and puts the activator in the path)
                // but do not apply it yet. Otherwise keep one instance for the rest of the window.
                return inPhase >= s.StableWindow
                    ? (0, false, ScaleReasons.ScaleToZeroGracePeriod)
                    : (1, true, ScaleReasons.StableWindowNotElapsed);

            default:
                var retention = s.ScaleToZeroPodRetentionPeriod;
                if (inPhase >= (s.ScaleToZeroGracePeriod > retention ? s.ScaleToZeroGracePeriod : retention))
                {
                    return (0, true, ScaleReasons.ScaledToZero);
                }

                if (retention > TimeSpan.Zero && inPhase < retention)
                {
                    return (0, false, ScaleReasons.ScaleToZeroGracePeriod);
                }

                // Fast path: the activator may have been in the path for longer than the revision has been inactive
                // (a negative burst capacity put it there).
                var proxyFor = state.ActivatorInPathSince is { } since ? now - since : TimeSpan.Zero;
                return proxyFor >= s.ScaleToZeroGracePeriod
                    ? (0, true, ScaleReasons.ScaledToZero)
                    : (0, false, ScaleReasons.ScaleToZeroGracePeriod);
        }
    }

    /// <summary>Knative's <c>computeActiveCondition</c>.</summary>
    private static ActivityPhase NextPhase(ActivityPhase phase, int want, int ready, int minReady)
    {
        if (want == 0)
        {
            return ActivityPhase.Inactive;
        }

        if (want < 0 && phase == ActivityPhase.Inactive)
        {
            return ActivityPhase.Inactive;
        }

        return ready < minReady ? ActivityPhase.Activating : ActivityPhase.Active;
    }
}
