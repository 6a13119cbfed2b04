using Trellis.Api.Policy;

namespace Trellis.Api.Validation;

/// <summary>A LocalRateLimit's bucket as Envoy's <c>local_ratelimit</c> accepts it, valid selector labels, distinct route names.</summary>
internal static class LocalRateLimitValidator
{
    public static readonly TimeSpan MinFillInterval = TimeSpan.FromMilliseconds(50);

    public static void Validate(LocalRateLimitSpec spec, ValidationContext ctx)
    {
        Checks.Labels(spec.WorkloadSelector?.Labels, "spec.workloadSelector.labels", ctx);
        for (var i = 0; i < spec.Routes.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(spec.Routes[i]))
            {
                ctx.Error($"spec.routes[{i}]", "a route name must not be empty");
            }
        }

        Checks.Unique(spec.Routes, r => r, "spec.routes", "route name", ctx);
        var bucket = spec.TokenBucket;
        if (bucket.MaxTokens < 1)
        {
            ctx.Error("spec.tokenBucket.maxTokens", "must be at least 1");
        }

        if (bucket.TokensPerFill is < 1)
        {
            ctx.Error("spec.tokenBucket.tokensPerFill", "must be at least 1");
        }

        if (!Durations.TryParse(bucket.FillInterval, out var interval))
        {
            Checks.Duration(bucket.FillInterval, "spec.tokenBucket.fillInterval", ctx);
        }
        else if (interval < MinFillInterval)
        {
            ctx.Error("spec.tokenBucket.fillInterval", $"\"{bucket.FillInterval}\" is shorter than 50ms, the shortest fill interval Envoy accepts");
        }
    }
}
