using System.Globalization;
using Trellis.Api;
using Trellis.Serving.Autoscaling;

namespace Trellis.ControlPlane.Serving;

/// <summary>
/// Knative's cluster-wide autoscaler defaults come from the ConfigMap <c>knative-serving/config-autoscaler</c>;
/// so do ours. Keys and units are Knative's; an unreadable value is reported and the default kept.
/// </summary>
public static class AutoscalerConfigMap
{
    public const string Namespace = "knative-serving";
    public const string Name = "config-autoscaler";

    public static (AutoscalerConfig Config, IReadOnlyList<string> Errors) Parse(IReadOnlyDictionary<string, string>? data)
    {
        var config = AutoscalerConfig.Default;
        var errors = new List<string>();
        if (data is null)
        {
            return (config, errors);
        }

        foreach (var (key, value) in data)
        {
            var ok = key switch
            {
                "stable-window" => Duration(value, d => config = config with { StableWindow = d }),
                "scale-to-zero-grace-period" => Duration(value, d => config = config with { ScaleToZeroGracePeriod = d }),
                "scale-to-zero-pod-retention-period" => Duration(value, d => config = config with { ScaleToZeroPodRetentionPeriod = d }),
                "scale-down-delay" => Duration(value, d => config = config with { ScaleDownDelay = d }),
                "enable-scale-to-zero" => Bool(value, b => config = config with { EnableScaleToZero = b }),
                "allow-zero-initial-scale" => Bool(value, b => config = config with { AllowZeroInitialScale = b }),
                "container-concurrency-target-percentage" => Number(value, n => config = config with { ContainerConcurrencyTargetFraction = n / 100 }),
                "container-concurrency-target-default" => Number(value, n => config = config with { ContainerConcurrencyTargetDefault = n }),
                "requests-per-second-target-default" => Number(value, n => config = config with { RpsTargetDefault = n }),
                "target-burst-capacity" => Number(value, n => config = config with { TargetBurstCapacity = n }),
                "panic-window-percentage" => Number(value, n => config = config with { PanicWindowPercentage = n }),
                "panic-threshold-percentage" => Number(value, n => config = config with { PanicThresholdPercentage = n }),
                "max-scale-up-rate" => Number(value, n => config = config with { MaxScaleUpRate = n }),
                "max-scale-down-rate" => Number(value, n => config = config with { MaxScaleDownRate = n }),
                "initial-scale" => Number(value, n => config = config with { InitialScale = (int)n }),
                "max-scale" => Number(value, n => config = config with { MaxScale = (int)n }),
                _ => true, // keys Knative has that we do not use (pod-autoscaler-class, ...)
            };
            if (!ok)
            {
                errors.Add($"{Namespace}/{Name}: {key}: \"{value}\" is not a valid value");
            }
        }

        return (config, errors);
    }

    private static bool Duration(string value, Action<TimeSpan> set)
    {
        if (!Durations.TryParse(value, out var d) || d < TimeSpan.Zero)
        {
            return false;
        }

        set(d);
        return true;
    }

    private static bool Bool(string value, Action<bool> set)
    {
        if (!bool.TryParse(value, out var b))
        {
            return false;
        }

        set(b);
        return true;
    }

    private static bool Number(string value, Action<double> set)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n < 0)
        {
            return false;
        }

        set(n);
        return true;
    }
}
