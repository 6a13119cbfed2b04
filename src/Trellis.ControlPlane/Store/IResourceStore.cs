using Trellis.Api;

namespace Trellis.ControlPlane.Store;

/// <summary>
/// The control plane's resource store. Writes are atomic batches: all operations apply at one new
/// revision or none does. A write is acknowledged only once it is durable. Reads see immutable snapshots.
/// </summary>
public interface IResourceStore : IAsyncDisposable
{
    /// <summary>The current immutable view; cheap, never blocks on writers.</summary>
    StoreSnapshot Snapshot { get; }

    Task<StoreWriteResult> WriteAsync(IReadOnlyList<StoreOperation> operations, CancellationToken cancellationToken = default);

    /// <summary>
    /// Events after <paramref name="afterRevision"/>, then live ones until cancelled.
    /// Throws <see cref="WatchExpiredException"/> when the history no longer reaches back that far (HTTP 410, like Kubernetes).
    /// </summary>
    IAsyncEnumerable<WatchEvent> WatchAsync(long afterRevision, CancellationToken cancellationToken);
}

public sealed class WatchExpiredException(long requested, long oldest)
    : Exception($"resourceVersion {requested} is too old; the oldest available is {oldest}");

/// <summary>An immutable view of the store at one revision.</summary>
public sealed class StoreSnapshot(long revision, IReadOnlyDictionary<ResourceKey, StoredResource> objects)
{
    public static readonly StoreSnapshot Empty = new(0, new Dictionary<ResourceKey, StoredResource>());

    public long Revision { get; } = revision;

    public IReadOnlyDictionary<ResourceKey, StoredResource> Objects { get; } = objects;

    public StoredResource? Get(ResourceKey key) => Objects.GetValueOrDefault(key);

    public IEnumerable<StoredResource> List(string group, string kind, string? ns = null) =>
        Objects.Values
            .Where(o => o.Resource.Group == group && o.Resource.Kind == kind && (ns is null || o.Resource.Key.Namespace == ns))
            .OrderBy(o => o.Resource.Key.Namespace, StringComparer.Ordinal)
            .ThenBy(o => o.Resource.Metadata.Name, StringComparer.Ordinal);
}
