using System.Text.Json.Nodes;

namespace Trellis.Api.Workloads;

/// <summary>
/// Kubernetes <c>PodSpec</c>, the fields the local runtime uses typed; Kubernetes-only scheduling and volume
/// fields are kept as written so a file that runs on Kubernetes also reads here.
/// </summary>
public sealed record PodSpec
{
    public required IReadOnlyList<Container> Containers { get; init; }

    public IReadOnlyList<Container> InitContainers { get; init; } = [];

    public string? ServiceAccountName { get; init; }

    public long? TerminationGracePeriodSeconds { get; init; }

    /// <summary><c>Always</c>, <c>OnFailure</c> or <c>Never</c>.</summary>
    public string? RestartPolicy { get; init; }

    public bool? EnableServiceLinks { get; init; }

    public bool? AutomountServiceAccountToken { get; init; }

    public string? Hostname { get; init; }

    public IReadOnlyDictionary<string, string> NodeSelector { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<JsonNode> Volumes { get; init; } = [];

    public IReadOnlyList<JsonNode> ImagePullSecrets { get; init; } = [];

    public JsonNode? SecurityContext { get; init; }

    public JsonNode? Affinity { get; init; }

    public IReadOnlyList<JsonNode> Tolerations { get; init; } = [];

    public IReadOnlyList<JsonNode> TopologySpreadConstraints { get; init; } = [];
}
