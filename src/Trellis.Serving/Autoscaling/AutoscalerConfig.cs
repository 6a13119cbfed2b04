namespace Trellis.Serving.Autoscaling;

/// <summary>
/// Cluster-wide autoscaler defaults, Knative's <c>config-autoscaler</c> config map with its defaults
/// (<c>pkg/autoscaler/config/config.go</c>, <c>config/core/configmaps/autoscaler.yaml</c>). Revision annotations
/// override the per-revision ones.
/// </summary>
public sealed record AutoscalerConfig
{
    public static AutoscalerConfig Default { get; } = new();

    public bool EnableScaleToZero { get; init; } = true;

    /// <summary><c>container-concurrency-target-percentage</c> as a fraction: 0.7.</summary>
    public double ContainerConcurrencyTargetFraction { get; init; } = 0.7;

    /// <summary><c>container-concurrency-target-default</c>: 100 concurrent requests per instance.</summary>
    public double ContainerConcurrencyTargetDefault { get; init; } = 100;

    /// <summary>Target utilization for the rps metric: 0.7.</summary>
    public double TargetUtilization { get; init; } = 0.7;

    /// <summary><c>requests-per-second-target-default</c>: 200.</summary>
    public double RpsTargetDefault { get; init; } = 200;

    public double MaxScaleUpRate { get; init; } = 1000;

    public double MaxScaleDownRate { get; init; } = 2;

    /// <summary>211 as shipped in Knative's config map; -1 keeps the activator in the path, 0 only at zero.</summary>
    public double TargetBurstCapacity { get; init; } = 211;

    public double PanicWindowPercentage { get; init; } = 10;

    public double PanicThresholdPercentage { get; init; } = 200;

    public TimeSpan StableWindow { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan ScaleToZeroGracePeriod { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan ScaleToZeroPodRetentionPeriod { get; init; } = TimeSpan.Zero;

    public TimeSpan ScaleDownDelay { get; init; } = TimeSpan.Zero;

    public bool AllowZeroInitialScale { get; init; }

    public int InitialScale { get; init; } = 1;

    /// <summary>0 means unbounded.</summary>
    public int MaxScale { get; init; }

    /// <summary>How long a revision may stay activating (no ready instance) before it is given up and scaled to zero:
    /// Knative's progress deadline (600 s) plus its 10 s activation buffer.</summary>
    public TimeSpan ActivationTimeout { get; init; } = TimeSpan.FromSeconds(610);

    /// <summary>How often the decider runs; also the bucket width of the scale-down-delay window (Knative: 2 s).</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromSeconds(2);
}
