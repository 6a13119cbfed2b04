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
