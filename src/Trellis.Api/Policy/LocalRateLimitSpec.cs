using Trellis.Api.Networking;

namespace Trellis.Api.Policy;

/// <summary>
/// Trellis <c>LocalRateLimit</c> (<c>networking.trellis.dev/v1alpha1</c>): a token bucket counted in each proxy, what
/// Istio needs an EnvoyFilter with Envoy's <c>local_ratelimit</c> for (docs/rate-limits.md). Without
/// <see cref="Routes"/> it limits every request a selected workload instance receives (its inbound listener) or a
/// selected gateway takes on each port; with them, only the named VirtualService routes (<c>http[].name</c>) of the
/// selected proxies: a gateway's routes, or the outbound routes of a selected workload.
/// </summary>
public sealed record LocalRateLimitSpec
{
    /// <summary>The workloads (and gateways) by labels, in the resource's namespace for workloads; empty: every workload of the namespace, no gateway.</summary>
    public WorkloadSelector? WorkloadSelector { get; init; }

    /// <summary>Names of VirtualService HTTP routes to limit, each with its own bucket; empty: the whole listener.</summary>
    public IReadOnlyList<string> Routes { get; init; } = [];

    public required TokenBucket TokenBucket { get; init; }
}

/// <summary>Envoy's <c>token_bucket</c>: holds at most <see cref="MaxTokens"/>, refilled by <see cref="TokensPerFill"/> every <see cref="FillInterval"/>.</summary>
public sealed record TokenBucket
{
    public required int MaxTokens { get; init; }

    /// <summary>Tokens added at each fill; Envoy's default is 1.</summary>
    public int? TokensPerFill { get; init; }

    /// <summary>A duration, at least 50 ms (Envoy's lower bound).</summary>
    public required string FillInterval { get; init; }
}
