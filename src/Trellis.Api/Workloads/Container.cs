using System.Text.Json.Nodes;
using Trellis.Api.Schema;

namespace Trellis.Api.Workloads;

/// <summary>
/// One container of a pod. For the local runtime <see cref="Command"/>, <see cref="Args"/>, <see cref="Env"/> and
/// <see cref="WorkingDir"/> describe the process to start; <see cref="Image"/> is kept for other runtimes.
/// </summary>
public sealed record Container
{
    /// <summary>Required in Deployments and Pods; optional in Knative revisions, as upstream.</summary>
    public string? Name { get; init; }

    public string? Image { get; init; }

    public string? ImagePullPolicy { get; init; }

    public IReadOnlyList<string> Command { get; init; } = [];

    public IReadOnlyList<string> Args { get; init; } = [];

    public IReadOnlyList<EnvVar> Env { get; init; } = [];

    public IReadOnlyList<JsonNode> EnvFrom { get; init; } = [];

    public string? WorkingDir { get; init; }

    public IReadOnlyList<ContainerPortSpec> Ports { get; init; } = [];

    public Probe? ReadinessProbe { get; init; }

    public Probe? LivenessProbe { get; init; }

    public Probe? StartupProbe { get; init; }

    public ResourceRequirements? Resources { get; init; }

    public IReadOnlyList<VolumeMount> VolumeMounts { get; init; } = [];

    public JsonNode? SecurityContext { get; init; }

    public JsonNode? Lifecycle { get; init; }

    public string? TerminationMessagePath { get; init; }

    public string? TerminationMessagePolicy { get; init; }

    public bool? Stdin { get; init; }

    public bool? Tty { get; init; }
}

public sealed record EnvVar
{
    public required string Name { get; init; }

    public string? Value { get; init; }

    /// <summary>fieldRef, configMapKeyRef, secretKeyRef…, kept as written.</summary>
    public JsonNode? ValueFrom { get; init; }
}

public sealed record ContainerPortSpec
{
    public required int ContainerPort { get; init; }

    public string? Name { get; init; }

    /// <summary>TCP (default), UDP or SCTP.</summary>
    public string? Protocol { get; init; }

    public int? HostPort { get; init; }

    public string? HostIP { get; init; }
}

public sealed record VolumeMount
{
    public required string Name { get; init; }

    public required string MountPath { get; init; }

    public bool? ReadOnly { get; init; }

    public string? SubPath { get; init; }
}

/// <summary>Resource quantities such as <c>cpu: 500m</c> or <c>memory: 128Mi</c>, kept as written.</summary>
public sealed record ResourceRequirements
{
    [ScalarString]
    public IReadOnlyDictionary<string, string> Limits { get; init; } = new Dictionary<string, string>();

    [ScalarString]
    public IReadOnlyDictionary<string, string> Requests { get; init; } = new Dictionary<string, string>();
}
