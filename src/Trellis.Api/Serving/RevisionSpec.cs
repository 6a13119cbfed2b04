using Trellis.Api.Schema;
using Trellis.Api.Workloads;

namespace Trellis.Api.Serving;

/// <summary>
/// Knative <c>RevisionSpec</c>: a Kubernetes pod spec (written inline, as upstream embeds it) plus the
/// serving limits the proxy in front of each instance enforces.
/// </summary>
public sealed record RevisionSpec
{
    [Inline]
    public required PodSpec PodSpec { get; init; }

    /// <summary>Maximum in-flight requests per instance; 0 (default) means no limit.</summary>
    public long? ContainerConcurrency { get; init; }

    /// <summary>Upper bound of a request's whole duration (default 300).</summary>
    public long? TimeoutSeconds { get; init; }

    public long? ResponseStartTimeoutSeconds { get; init; }

    public long? IdleTimeoutSeconds { get; init; }
}
