namespace Trellis.Serving.Autoscaling;

/// <summary>
/// The resolved KPA settings of one revision: cluster defaults (<see cref="AutoscalerConfig"/>) overridden by the
/// revision's annotations, with the target already turned into the value the decider divides by. Build one with
/// <see cref="Parse"/>; Knative does the same split in <c>MakeDecider</c> and <c>ResolveMetricTarget</c>.
/// </summary>
public sealed record AutoscalerSettings
{
    /// <summary><see cref="AutoscalingAnnotations.Concurrency"/> or <see cref="AutoscalingAnnotations.Rps"/>.</summary>
    public string Metric { get; init; } = AutoscalingAnnotations.Concurrency;

    /// <summary>What one instance should carry: <see cref="TotalValue"/> × utilization, at least 0.01.</summary>
    public double TargetValue { get; init; } = 70;

    /// <summary>What one instance can carry at most: the target annotation, else containerConcurrency (capped), else the default.</summary>
    public double TotalValue { get; init; } = 100;

    public double TargetBurstCapacity { get; init; } = 211;

    /// <summary>Panic threshold as a fraction of the target (2.0 for 200 %).</summary>
    public double PanicThreshold { get; init; } = 2.0;

    public TimeSpan StableWindow { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan PanicWindow { get; init; } = TimeSpan.FromSeconds(6);

    public TimeSpan ScaleDownDelay { get; init; } = TimeSpan.Zero;

    public double MaxScaleUpRate { get; init; } = 1000;

    public double MaxScaleDownRate { get; init; } = 2;

    public int MinScale { get; init; }

    /// <summary>0 means unbounded.</summary>
    public int MaxScale { get; init; }

    public int InitialScale { get; init; } = 1;

    /// <summary>The smallest non-zero scale; 1 means no floor beyond one instance.</summary>
    public int ActivationScale { get; init; } = 1;

    public bool EnableScaleToZero { get; init; } = true;

    public TimeSpan ScaleToZeroGracePeriod { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan ScaleToZeroPodRetentionPeriod { get; init; } = TimeSpan.Zero;

    public TimeSpan ActivationTimeout { get; init; } = TimeSpan.FromSeconds(610);

    public TimeSpan TickInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Knative's defaults for a revision without annotations and without a containerConcurrency limit.</summary>
    public static AutoscalerSettings Default { get; } = new();

    /// <summary>
    /// Reads the autoscaling annotations of a revision template. Every bad value is reported (with the annotation
    /// name); none is silently replaced by its default. <paramref name="containerConcurrency"/> 0 means unlimited.
    /// </summary>
    public static AutoscalerSettingsResult Parse(
        IReadOnlyDictionary<string, string>? annotations,
        long containerConcurrency = 0,
        AutoscalerConfig? config = null) =>
        AutoscalerSettingsParser.Parse(annotations ?? new Dictionary<string, string>(), containerConcurrency, config ?? AutoscalerConfig.Default);
}

/// <summary>The settings, or every reason they could not be read.</summary>
public sealed record AutoscalerSettingsResult(AutoscalerSettings? Settings, IReadOnlyList<AnnotationError> Errors)
{
    public bool IsValid => Settings is not null;
}
