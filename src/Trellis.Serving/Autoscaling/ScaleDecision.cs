namespace Trellis.Serving.Autoscaling;

/// <summary>
/// One autoscaler tick's answer: how many instances the revision should have, whether the activator must stay in the
/// request path (no or too little burst capacity), whether the decider is panicking, and why.
/// </summary>
public sealed record ScaleDecision(
    int DesiredScale,
    bool ActivatorInPath,
    bool Panicking,
    string Reason,
    int ExcessBurstCapacity = 0,
    double ObservedStable = 0,
    double ObservedPanic = 0);

/// <summary>The <see cref="ScaleDecision.Reason"/> values.</summary>
public static class ScaleReasons
{
    /// <summary>ceil(stable-window average / target), within the scale-up and scale-down rate limits.</summary>
    public const string Stable = "Stable";

    /// <summary>The panic window is over the panic threshold (or was within the last stable window): never scale down.</summary>
    public const string Panic = "Panic";

    /// <summary>A higher scale from within the scale-down delay is held.</summary>
    public const string ScaleDownDelay = "ScaleDownDelay";

    /// <summary>Raised to activation-scale, the smallest non-zero scale.</summary>
    public const string ActivationScale = "ActivationScale";

    public const string MinScale = "MinScale";

    public const string MaxScale = "MaxScale";

    /// <summary>Held at initial-scale until the revision has reached it once.</summary>
    public const string InitialScale = "InitialScale";

    /// <summary>No samples within the stable window: the last decision stands.</summary>
    public const string NoMetrics = "NoMetrics";

    /// <summary>Zero is wanted but scale-to-zero is disabled in the autoscaler config.</summary>
    public const string ScaleToZeroDisabled = "ScaleToZeroDisabled";

    /// <summary>Zero is wanted but the revision has been active for less than a stable window: kept at one.</summary>
    public const string StableWindowNotElapsed = "StableWindowNotElapsed";

    /// <summary>Zero is wanted; the activator is in the path and the grace period / pod retention have not passed.</summary>
    public const string ScaleToZeroGracePeriod = "ScaleToZeroGracePeriod";

    public const string ScaledToZero = "ScaledToZero";

    /// <summary>No instance became ready within the activation timeout: given up and scaled to zero.</summary>
    public const string ActivationTimeout = "ActivationTimeout";

    /// <summary>Waiting for the first instance to become ready.</summary>
    public const string Activating = "Activating";
}
