using Trellis.Api.Observability;

namespace Trellis.Api.Validation;

/// <summary>Istio's Telemetry rules: sampling percentages, provider names, one kind of custom tag, filters Trellis can evaluate.</summary>
internal static class TelemetryValidator
{
    public static void Validate(TelemetrySpec spec, ValidationContext ctx)
    {
        for (var i = 0; i < spec.Tracing.Count; i++)
        {
            var tracing = spec.Tracing[i];
            var at = $"spec.tracing[{i}]";
            if (tracing.RandomSamplingPercentage is { } p && (p is < 0 or > 100 || double.IsNaN(p)))
            {
                ctx.Error($"{at}.randomSamplingPercentage", $"{p} is not a percentage from 0 to 100");
            }

            Providers(tracing.Providers, $"{at}.providers", ctx);
            foreach (var (name, tag) in tracing.CustomTags)
            {
                var kinds = (tag.Literal is null ? 0 : 1) + (tag.Environment is null ? 0 : 1) + (tag.Header is null ? 0 : 1);
                if (kinds != 1)
                {
                    ctx.Error($"{at}.customTags.{name}", "exactly one of literal, environment or header is expected");
                }
            }
        }

        for (var i = 0; i < spec.Metrics.Count; i++)
        {
            Providers(spec.Metrics[i].Providers, $"spec.metrics[{i}].providers", ctx);
            for (var o = 0; o < spec.Metrics[i].Overrides.Count; o++)
            {
                if (spec.Metrics[i].Overrides[o].Match is { Metric: not null, CustomMetric: not null })
                {
                    ctx.Error($"spec.metrics[{i}].overrides[{o}].match", "metric and customMetric are exclusive");
                }
            }
        }

        for (var i = 0; i < spec.AccessLogging.Count; i++)
        {
            var logging = spec.AccessLogging[i];
            Providers(logging.Providers, $"spec.accessLogging[{i}].providers", ctx);
            if (logging.Filter is { } filter && LogFilterExpression.Parse(filter.Expression, out var error) is null)
            {
                ctx.Error($"spec.accessLogging[{i}].filter.expression", error!);
            }
        }
    }

    private static void Providers(IReadOnlyList<ProviderRef> providers, string at, ValidationContext ctx)
    {
        for (var i = 0; i < providers.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(providers[i].Name))
            {
                ctx.Error($"{at}[{i}].name", "a provider name is required");
            }
        }
    }
}
