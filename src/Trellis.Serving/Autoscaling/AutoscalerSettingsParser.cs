using System.Globalization;
using Trellis.Api;
using A = Trellis.Serving.Autoscaling.AutoscalingAnnotations;

namespace Trellis.Serving.Autoscaling;

/// <summary>
/// Annotation reading and validation, following Knative's <c>pkg/apis/autoscaling/annotation_validation.go</c>
/// bounds; all errors are collected rather than stopping at the first.
/// </summary>
internal static class AutoscalerSettingsParser
{
    internal const double TargetMin = 0.01;
    internal static readonly TimeSpan WindowMin = TimeSpan.FromSeconds(6);
    internal static readonly TimeSpan WindowMax = TimeSpan.FromHours(1);
    private static readonly TimeSpan BucketSize = TimeSpan.FromSeconds(1);

    public static AutoscalerSettingsResult Parse(IReadOnlyDictionary<string, string> annotations, long containerConcurrency, AutoscalerConfig config)
    {
        var reader = new Reader(annotations);

        if (reader.Get(A.Class) is { } cls && cls.Value != A.KpaClass)
        {
            reader.Fail(cls, $"only the KPA class ({A.KpaClass}) is supported");
        }

        var metric = A.Concurrency;
        if (reader.Get(A.Metric) is { } m)
        {
            if (m.Value is A.Concurrency or A.Rps)
            {
                metric = m.Value;
            }
            else
            {
                reader.Fail(m, $"must be \"{A.Concurrency}\" or \"{A.Rps}\"");
            }
        }

        var target = reader.Double(A.Target, TargetMin, double.MaxValue, $"must be at least {TargetMin}");
        var utilizationPercent = reader.Double(A.TargetUtilizationPercentage, 1, 100, "must be in [1, 100]");
        var tbc = reader.Double(A.TargetBurstCapacity, -1, double.MaxValue, "must be -1 (unlimited) or at least 0");
        if (tbc is < 0 and not -1)
        {
            reader.Fail(reader.Get(A.TargetBurstCapacity)!.Value, "must be -1 (unlimited) or at least 0");
            tbc = null;
        }

        var panicWindowPercent = reader.Double(A.PanicWindowPercentage, 1, 100, "must be in [1, 100]");
        var panicThresholdPercent = reader.Double(A.PanicThresholdPercentage, 110, 1000, "must be in [110, 1000]");
        var window = reader.Duration(A.Window, WindowMin, WindowMax);
        var scaleDownDelay = reader.Duration(A.ScaleDownDelay, TimeSpan.Zero, WindowMax);
        var retention = reader.Duration(A.ScaleToZeroPodRetentionPeriod, TimeSpan.Zero, WindowMax, wholeSeconds: false);
        var minScale = reader.Int(A.MinScale, 0);
        var maxScale = reader.Int(A.MaxScale, 0);
        var initialScale = reader.Int(A.InitialScale, 0);
        var activationScale = reader.Int(A.ActivationScale, 1);

        var min = minScale ?? 0;
        var max = maxScale ?? config.MaxScale;
        if (max != 0 && max < min)
        {
            reader.Fail(reader.Get(A.MaxScale) ?? reader.Get(A.MinScale)!.Value, $"max-scale={max} is less than min-scale={min}");
        }

        if (initialScale == 0 && !config.AllowZeroInitialScale)
        {
            reader.Fail(reader.Get(A.InitialScale)!.Value, "initial-scale=0 is not allowed unless allow-zero-initial-scale is enabled");
            initialScale = null;
        }

        if (activationScale is { } act && max != 0 && act > max)
        {
            reader.Fail(reader.Get(A.ActivationScale)!.Value, $"max-scale={max} is less than activation-scale={act}");
        }

        if (reader.Errors.Count > 0)
        {
            return new AutoscalerSettingsResult(null, reader.Errors);
        }

        var (targetValue, totalValue) = ResolveTarget(metric, target, utilizationPercent, containerConcurrency, config);
        var stableWindow = window ?? config.StableWindow;
        var panicWindow = TimeSpan.FromSeconds(Math.Round(stableWindow.TotalSeconds * (panicWindowPercent ?? config.PanicWindowPercentage) / 100));
        if (panicWindow < BucketSize)
        {
            panicWindow = BucketSize;
        }

        var settings = new AutoscalerSettings
        {
            Metric = metric,
            TargetValue = targetValue,
            TotalValue = totalValue,
            TargetBurstCapacity = tbc ?? config.TargetBurstCapacity,
            PanicThreshold = (panicThresholdPercent ?? config.PanicThresholdPercentage) / 100,
            StableWindow = stableWindow,
            PanicWindow = panicWindow,
            ScaleDownDelay = scaleDownDelay ?? config.ScaleDownDelay,
            MaxScaleUpRate = config.MaxScaleUpRate,
            MaxScaleDownRate = config.MaxScaleDownRate,
            MinScale = min,
            MaxScale = max,
            InitialScale = initialScale ?? config.InitialScale,
            ActivationScale = activationScale ?? 1,
            EnableScaleToZero = config.EnableScaleToZero,
            ScaleToZeroGracePeriod = config.ScaleToZeroGracePeriod,
            ScaleToZeroPodRetentionPeriod = retention ?? config.ScaleToZeroPodRetentionPeriod,
            ActivationTimeout = config.ActivationTimeout,
            TickInterval = config.TickInterval,
        };
        return new AutoscalerSettingsResult(settings, []);
    }

    /// <summary>
    /// Knative's <c>ResolveMetricTarget</c>: the total is the rps default, or containerConcurrency (the default 100 when
    /// unlimited); a target annotation replaces it, but never above containerConcurrency for the concurrency metric.
    /// The target is total × utilization, at least 0.01.
    /// </summary>
    private static (double Target, double Total) ResolveTarget(string metric, double? annotationTarget, double? utilizationPercent, long containerConcurrency, AutoscalerConfig config)
    {
        double total;
        double utilization;
        if (metric == A.Rps)
        {
            total = config.RpsTargetDefault;
            utilization = config.TargetUtilization;
        }
        else
        {
            total = containerConcurrency > 0 ? containerConcurrency : config.ContainerConcurrencyTargetDefault;
            utilization = config.ContainerConcurrencyTargetFraction;
        }

        if (annotationTarget is { } t)
        {
            total = metric == A.Concurrency && containerConcurrency > 0 ? Math.Min(t, containerConcurrency) : t;
        }

        if (utilizationPercent is { } u)
        {
            utilization = u / 100;
        }

        return (Math.Max(TargetMin, total * utilization), total);
    }

    private sealed class Reader(IReadOnlyDictionary<string, string> annotations)
    {
        public List<AnnotationError> Errors { get; } = [];

        /// <summary>The value under the current key or, failing that, a legacy alias, with the key actually used.</summary>
        public KeyValuePair<string, string>? Get(string key)
        {
            foreach (var alias in A.Aliases(key))
            {
                if (annotations.TryGetValue(alias, out var v))
                {
                    return new(alias, v);
                }
            }

            return null;
        }

        public void Fail(KeyValuePair<string, string> kv, string message) => Errors.Add(new AnnotationError(kv.Key, kv.Value, message));

        public double? Double(string key, double min, double max, string rangeMessage)
        {
            if (Get(key) is not { } kv)
            {
                return null;
            }

            if (!double.TryParse(kv.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
            {
                Fail(kv, "not a number");
                return null;
            }

            if (v < min || v > max)
            {
                Fail(kv, rangeMessage);
                return null;
            }

            return v;
        }

        public int? Int(string key, int min)
        {
            if (Get(key) is not { } kv)
            {
                return null;
            }

            if (!int.TryParse(kv.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
            {
                Fail(kv, "not an integer");
                return null;
            }

            if (v < min)
            {
                Fail(kv, $"must be at least {min}");
                return null;
            }

            return v;
        }

        public TimeSpan? Duration(string key, TimeSpan min, TimeSpan max, bool wholeSeconds = true)
        {
            if (Get(key) is not { } kv)
            {
                return null;
            }

            if (!Durations.TryParse(kv.Value, out var d))
            {
                Fail(kv, "not a duration (e.g. 60s, 2m)");
                return null;
            }

            if (d < min || d > max)
            {
                Fail(kv, $"must be in [{Format(min)}, {Format(max)}]");
                return null;
            }

            if (wholeSeconds && d.Ticks % TimeSpan.TicksPerSecond != 0)
            {
                Fail(kv, "must be specified with at most second precision");
                return null;
            }

            return d;
        }

        private static string Format(TimeSpan d) => d.TotalHours >= 1 ? $"{d.TotalHours:0.##}h" : $"{d.TotalSeconds:0.##}s";
    }
}
