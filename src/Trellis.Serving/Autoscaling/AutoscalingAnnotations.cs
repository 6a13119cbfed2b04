namespace Trellis.Serving.Autoscaling;

/// <summary>
/// The revision-template annotations the KPA reads, spelled as Knative spells them
/// (<c>knative.dev/serving pkg/apis/autoscaling/register.go</c>). Where Knative still accepts the older camelCase
/// spelling, it is listed after the current one and read when the current one is absent.
/// </summary>
public static class AutoscalingAnnotations
{
    public const string Group = "autoscaling.knative.dev";

    public const string Class = Group + "/class";
    public const string Metric = Group + "/metric";
    public const string Target = Group + "/target";
    public const string TargetUtilizationPercentage = Group + "/target-utilization-percentage";
    public const string TargetBurstCapacity = Group + "/target-burst-capacity";
    public const string MinScale = Group + "/min-scale";
    public const string MaxScale = Group + "/max-scale";
    public const string InitialScale = Group + "/initial-scale";
    public const string ActivationScale = Group + "/activation-scale";

    /// <summary>The stable window; Knative names the annotation <c>window</c> (<c>stable-window</c> is the config-map key).</summary>
    public const string Window = Group + "/window";
    public const string PanicWindowPercentage = Group + "/panic-window-percentage";
    public const string PanicThresholdPercentage = Group + "/panic-threshold-percentage";
    public const string ScaleDownDelay = Group + "/scale-down-delay";
    public const string ScaleToZeroPodRetentionPeriod = Group + "/scale-to-zero-pod-retention-period";

    /// <summary>The KPA class value of <see cref="Class"/> (the default); other classes are not ours to scale.</summary>
    public const string KpaClass = "kpa.autoscaling.knative.dev";

    public const string Concurrency = "concurrency";
    public const string Rps = "rps";

    /// <summary>Current spelling first, then the legacy aliases Knative still honours.</summary>
    internal static IReadOnlyList<string> Aliases(string key) => key switch
    {
        MinScale => [MinScale, Group + "/minScale"],
        MaxScale => [MaxScale, Group + "/maxScale"],
        InitialScale => [InitialScale, Group + "/initialScale"],
        TargetUtilizationPercentage => [TargetUtilizationPercentage, Group + "/targetUtilizationPercentage"],
        TargetBurstCapacity => [TargetBurstCapacity, Group + "/targetBurstCapacity"],
        PanicWindowPercentage => [PanicWindowPercentage, Group + "/panicWindowPercentage"],
        PanicThresholdPercentage => [PanicThresholdPercentage, Group + "/panicThresholdPercentage"],
        ScaleToZeroPodRetentionPeriod => [ScaleToZeroPodRetentionPeriod, Group + "/scaleToZeroPodRetentionPeriod"],
        _ => [key],
    };
}
