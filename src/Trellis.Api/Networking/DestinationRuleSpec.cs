namespace Trellis.Api.Networking;

/// <summary>
/// Istio <c>DestinationRule</c>: policies applied to traffic for <see cref="Host"/> after routing, and the named
/// <see cref="Subsets"/> (versions) that routes can target. See istio/api <c>destination_rule.proto</c>.
/// </summary>
public sealed record DestinationRuleSpec
{
    public required string Host { get; init; }

    public TrafficPolicy? TrafficPolicy { get; init; }

    public IReadOnlyList<Subset> Subsets { get; init; } = [];

    public IReadOnlyList<string> ExportTo { get; init; } = [];

    public WorkloadLabelSelector? WorkloadSelector { get; init; }
}

/// <summary>A named group of the host's endpoints, selected by labels; its policy overrides the rule's.</summary>
public sealed record Subset
{
    public required string Name { get; init; }

    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    public TrafficPolicy? TrafficPolicy { get; init; }
}

/// <summary>Selects workloads by labels: istio/api <c>type.v1beta1.WorkloadSelector</c> (<c>matchLabels</c>).</summary>
public sealed record WorkloadLabelSelector
{
    public IReadOnlyDictionary<string, string> MatchLabels { get; init; } = new Dictionary<string, string>();
}

/// <summary>Selects workloads by labels: istio/api <c>networking.WorkloadSelector</c> (<c>labels</c>), used by ServiceEntry and Sidecar.</summary>
public sealed record WorkloadSelector
{
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
}
