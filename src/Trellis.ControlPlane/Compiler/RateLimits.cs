using Trellis.Api;
using Trellis.Api.Policy;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// LocalRateLimit resources → the token buckets of listeners and routes (docs/rate-limits.md). A workload is selected
/// by a rule of its namespace whose selector its labels satisfy (an empty selector selects every workload of the
/// namespace); a gateway only by a non-empty selector its labels satisfy, from any namespace. Where several rules
/// select the same listener or route, the oldest applies, as Istio resolves conflicting policies.
/// </summary>
internal static class RateLimits
{
    /// <summary>The bucket for every request of a listener: a selected instance's inbound listener, or each port of a selected gateway.</summary>
    public static RateLimitConfig? Listener(MeshIndex index, IReadOnlyDictionary<string, string> labels, string? ns) =>
        index.LocalRateLimits.FirstOrDefault(r => r.Spec.Routes.Count == 0 && Selects(r, labels, ns)) is { } rule ? Config(rule.Spec.TokenBucket) : null;

    /// <summary>The hosts with a bucket on each route that a selecting rule names (VirtualService <c>http[].name</c>).</summary>
    public static List<VirtualHostConfig> Routes(List<VirtualHostConfig> hosts, MeshIndex index, IReadOnlyDictionary<string, string> labels, string? ns)
    {
        var byRoute = new Dictionary<string, RateLimitConfig>(StringComparer.Ordinal);
        foreach (var rule in index.LocalRateLimits.Where(r => r.Spec.Routes.Count > 0 && Selects(r, labels, ns)))
        {
            foreach (var name in rule.Spec.Routes)
            {
                byRoute.TryAdd(name, Config(rule.Spec.TokenBucket));
            }
        }

        if (byRoute.Count == 0)
        {
            return hosts;
        }

        return hosts.Select(h => h with
        {
            Routes = h.Routes.Select(r => byRoute.TryGetValue(r.Name, out var limit) ? r with { RateLimit = limit } : r).ToList(),
        }).ToList();
    }

    /// <param name="ns">The workload's namespace; null for a gateway.</param>
    private static bool Selects(Scoped<LocalRateLimitSpec> rule, IReadOnlyDictionary<string, string> labels, string? ns)
    {
        var selector = rule.Spec.WorkloadSelector?.Labels ?? new Dictionary<string, string>();
        return ns is null
            ? selector.Count > 0 && Labels.Selects(selector, labels)
            : rule.Namespace == ns && Labels.Selects(selector, labels);
    }

    private static RateLimitConfig Config(TokenBucket bucket) =>
        new(bucket.MaxTokens, bucket.TokensPerFill ?? 1, Durations.TryParse(bucket.FillInterval, out var interval) ? interval : TimeSpan.FromSeconds(1));
}
