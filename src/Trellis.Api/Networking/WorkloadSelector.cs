namespace Trellis.Api.Networking;

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
