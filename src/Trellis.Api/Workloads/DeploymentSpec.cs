namespace Trellis.Api.Workloads;

/// <summary>Kubernetes <c>apps/v1 Deployment</c>: <see cref="Replicas"/> copies of the pod <see cref="Template"/>.</summary>
public sealed record DeploymentSpec
{
    /// <summary>Defaults to 1.</summary>
    public int? Replicas { get; init; }

    /// <summary>Must select the template's labels.</summary>
    public required LabelSelector Selector { get; init; }

    public required PodTemplateSpec Template { get; init; }

    public DeploymentStrategy? Strategy { get; init; }

    public int? MinReadySeconds { get; init; }

    public int? RevisionHistoryLimit { get; init; }

    public int? ProgressDeadlineSeconds { get; init; }

    public bool? Paused { get; init; }
}

public sealed record PodTemplateSpec
{
    public PodTemplateMetadata? Metadata { get; init; }

    public required PodSpec Spec { get; init; }
}

/// <summary>The metadata a pod template may carry (also Knative's revision template).</summary>
public sealed record PodTemplateMetadata
{
    public string? Name { get; init; }

    public string? Namespace { get; init; }

    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    public IReadOnlyDictionary<string, string> Annotations { get; init; } = new Dictionary<string, string>();
}

public sealed record DeploymentStrategy
{
    /// <summary><c>RollingUpdate</c> (default) or <c>Recreate</c>.</summary>
    public string? Type { get; init; }

    public RollingUpdateDeployment? RollingUpdate { get; init; }
}

public sealed record RollingUpdateDeployment
{
    public IntOrString? MaxUnavailable { get; init; }

    public IntOrString? MaxSurge { get; init; }
}
