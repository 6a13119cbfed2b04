namespace Trellis.Api.Workloads;

/// <summary>Kubernetes <c>Namespace</c>: only the name matters here; finalizers are kept as written.</summary>
public sealed record NamespaceSpec
{
    public IReadOnlyList<string> Finalizers { get; init; } = [];
}
