namespace Trellis.Api.Serving;

/// <summary>
/// Knative <c>serving.knative.dev/v1 Service</c>: owns a Configuration (from <see cref="Template"/>) and a Route
/// (from <see cref="Traffic"/>). No traffic block means 100% to the latest ready revision.
/// </summary>
public sealed record KnativeServiceSpec
{
    public required RevisionTemplateSpec Template { get; init; }

    public IReadOnlyList<TrafficTarget> Traffic { get; init; } = [];
}

/// <summary>Knative <c>Configuration</c>: every change of <see cref="Template"/> stamps a new immutable Revision.</summary>
public sealed record ConfigurationSpec
{
    public required RevisionTemplateSpec Template { get; init; }
}

/// <summary>Knative <c>Route</c>: splits traffic between revisions by percent and names tagged ones.</summary>
public sealed record RouteSpec
{
    public IReadOnlyList<TrafficTarget> Traffic { get; init; } = [];
}

public sealed record RevisionTemplateSpec
{
    /// <summary><c>name</c> here names the revision (<c>{service}-{suffix}</c>); labels and annotations carry autoscaling settings.</summary>
    public Workloads.PodTemplateMetadata? Metadata { get; init; }

    public required RevisionSpec Spec { get; init; }
}

/// <summary>One traffic split entry: a revision (by name, or the latest of a configuration) and its share.</summary>
public sealed record TrafficTarget
{
    /// <summary>Exposes this target at its own URL, <c>{tag}-{service}…</c>.</summary>
    public string? Tag { get; init; }

    public string? RevisionName { get; init; }

    public string? ConfigurationName { get; init; }

    /// <summary>Follow the newest ready revision; must not be combined with <see cref="RevisionName"/>.</summary>
    public bool? LatestRevision { get; init; }

    public long? Percent { get; init; }

    /// <summary>Set by the system in status only.</summary>
    public string? Url { get; init; }
}
