namespace Trellis.Api.Workloads;

/// <summary>Kubernetes <c>ConfigMap</c>; its fields sit at the top level of the document, not under <c>spec</c>.</summary>
public sealed record ConfigMapData
{
    public IReadOnlyDictionary<string, string> Data { get; init; } = new Dictionary<string, string>();

    /// <summary>Base64 values.</summary>
    public IReadOnlyDictionary<string, string> BinaryData { get; init; } = new Dictionary<string, string>();

    public bool? Immutable { get; init; }
}
