using System.Text.Json.Nodes;

namespace Trellis.Api;

/// <summary>
/// One Kubernetes-shaped document: <c>apiVersion</c>, <c>kind</c>, <c>metadata</c>, <c>spec</c>, <c>status</c>.
/// <see cref="Spec"/> holds the typed spec record of the kind (for example <c>VirtualServiceSpec</c>),
/// or null for kinds without one.
/// </summary>
public sealed record Resource(string ApiVersion, string Kind, ObjectMeta Metadata, object? Spec, JsonObject? Status = null)
{
    /// <summary>The API group: the part of <see cref="ApiVersion"/> before the slash, empty for the core group.</summary>
    public string Group => ApiVersion.Contains('/', StringComparison.Ordinal) ? ApiVersion[..ApiVersion.IndexOf('/', StringComparison.Ordinal)] : "";

    public ResourceKey Key => new(Group, Kind, Metadata.Namespace ?? ResourceKey.DefaultNamespace, Metadata.Name);

    public T GetSpec<T>() where T : class =>
        Spec as T ?? throw new InvalidOperationException($"{Kind} {Metadata.Name} has no spec of type {typeof(T).Name}.");
}

/// <summary>Standard object metadata; only the fields a user writes plus those the store assigns.</summary>
public sealed record ObjectMeta
{
    public string Name { get; init; } = "";
    public string? Namespace { get; init; }
    public IReadOnlyDictionary<string, string>? Labels { get; init; }
    public IReadOnlyDictionary<string, string>? Annotations { get; init; }
    /// <summary>Assigned by the store on every write; a client may send it back for optimistic concurrency.</summary>
    public string? ResourceVersion { get; init; }
    /// <summary>Assigned by the store; bumped when the spec changes.</summary>
    public long? Generation { get; init; }
    public string? Uid { get; init; }
    public DateTimeOffset? CreationTimestamp { get; init; }
}

/// <summary>Identifies a stored resource. Group distinguishes Istio's <c>Gateway</c> from the Gateway API's.</summary>
public readonly record struct ResourceKey(string Group, string Kind, string Namespace, string Name)
{
    public const string DefaultNamespace = "default";

    public override string ToString() => $"{Kind}{(Group.Length > 0 ? "." + Group : "")}/{Namespace}/{Name}";
}
