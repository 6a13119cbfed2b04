namespace Trellis.Serving.Autoscaling;

/// <summary>
/// Everything the KPA remembers between ticks for one revision; the caller keeps it and passes it back. Mirrors the
/// fields of Knative's <c>autoscaler</c> struct (panic time, max panic pods, delay window), its decider status, and the
/// PodAutoscaler status the KPA reconciler keeps (Active condition and its transition time, scale target initialized,
/// how long the ServerlessService has been in proxy mode).
/// </summary>
public sealed record AutoscalerState
{
    /// <summary>When the panic window was last over the panic threshold; null when not panicking.</summary>
    public DateTimeOffset? PanicTime { get; init; }

    /// <summary>The highest scale asked for during the current panic.</summary>
    public int MaxPanicPods { get; init; }

    /// <summary>Holds the max desired scale over the scale-down delay; null without a delay.</summary>
    public MaxTimeWindow? DelayWindow { get; init; }

    /// <summary>The decider's last valid answer (-1 until metrics arrive) and its excess burst capacity.</summary>
    public int DeciderScale { get; init; } = -1;

    public int DeciderExcessBurstCapacity { get; init; }

    /// <summary>The scale last handed to the runtime.</summary>
    public int AppliedScale { get; init; }

    public ActivityPhase Phase { get; init; }

    public DateTimeOffset PhaseSince { get; init; }

    /// <summary>Since when the activator has been in the request path; null while it is not.</summary>
    public DateTimeOffset? ActivatorInPathSince { get; init; }

    /// <summary>True once the revision has had enough ready instances; initial-scale no longer applies after that.</summary>
    public bool ScaleTargetInitialized { get; init; }

    /// <summary>
    /// The state of a revision's autoscaler when it starts. Like Knative, a fresh autoscaler that finds more than one
    /// ready instance starts in panic mode, so that losing metric history on a restart never scales down. A new
    /// revision starts at initial-scale and activating (inactive when initial-scale is 0).
    /// </summary>
    public static AutoscalerState Create(AutoscalerSettings settings, int readyPods, DateTimeOffset now)
    {
        var tbc = settings.TargetBurstCapacity;
        var ebc = tbc is -1 or 0 ? (int)tbc : (int)(settings.InitialScale * settings.TotalValue - tbc);
        var phase = readyPods > 0 ? ActivityPhase.Active : settings.InitialScale > 0 ? ActivityPhase.Activating : ActivityPhase.Inactive;
        return new AutoscalerState
        {
            PanicTime = readyPods > 1 ? now : null,
            MaxPanicPods = readyPods,
            DelayWindow = settings.ScaleDownDelay > TimeSpan.Zero ? MaxTimeWindow.Create(settings.ScaleDownDelay, settings.TickInterval) : null,
            DeciderExcessBurstCapacity = ebc,
            AppliedScale = readyPods > 0 ? readyPods : settings.InitialScale,
            Phase = phase,
            PhaseSince = now,
            ScaleTargetInitialized = readyPods > 0 && readyPods >= Math.Max(1, settings.MinScale),
        };
    }
}
