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
                var entry = spec.Metrics[i].Overrides[o];
                if (entry.Match is { Metric: not null, CustomMetric: not null })
                {
                    ctx.Error($"spec.metrics[{i}].overrides[{o}].match", "metric and customMetric are exclusive");
                }

                foreach (var (name, tag) in entry.TagOverrides)
                {
                    TagOverrideRules(name, tag, entry.Match, $"spec.metrics[{i}].overrides[{o}].tagOverrides.{name}", ctx);
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

    /// <summary>
    /// A label operation: a Prometheus label name, a value for UPSERT (Istio's default operation) and none for REMOVE
    /// (istio/api's rules), and a value Trellis can evaluate (<see cref="TagValueExpression"/>), else nothing is applied.
    /// </summary>
    private static void TagOverrideRules(string name, TagOverride tag, MetricSelector? match, string at, ValidationContext ctx)
    {
        if (!IsLabelName(name))
        {
            ctx.Error(at, $"\"{name}\" is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)");
        }
        else if (name == "le" && match?.CustomMetric is null && match?.Metric is null or IstioMetric.AllMetrics or IstioMetric.RequestDuration
                     or IstioMetric.RequestSize or IstioMetric.ResponseSize)
        {
            ctx.Error(at, "\"le\" is the bucket label of the histograms: it cannot be a tag of theirs");
        }

        if (tag.Operation == TagOperation.Remove)
        {
            if (tag.Value is not null)
            {
                ctx.Error($"{at}.value", "value must not be set when operation is REMOVE");
            }

            return;
        }

        if (string.IsNullOrEmpty(tag.Value))
        {
            ctx.Error(at, "value must be set when operation is UPSERT");
        }
        else if (TagValueExpression.Parse(tag.Value, out var error) is null)
        {
            ctx.Error($"{at}.value", $"cannot evaluate \"{tag.Value}\": {error}");
        }
    }

    private static bool IsLabelName(string name) =>
        name.Length > 0 && !name.StartsWith("__", StringComparison.Ordinal) && (char.IsAsciiLetter(name[0]) || name[0] == '_')
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

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
