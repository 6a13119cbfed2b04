using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Leadership;

/// <summary>
/// The store as leader-only work sees it (scheduler, serving controller): reads are the shared store's; every write is
/// refused unless this replica leads, and is fenced by its leadership (<see cref="ILeadership.Fence"/>) when the store
/// is shared (<see cref="IFencedStore"/>), so a write decided by a leader whose lease ends before the write arrives is
/// not applied. The embedded store has one replica and no fence. It does not own the store it wraps.
/// </summary>
public sealed class LeaderStore(IResourceStore store, ILeadership leadership) : IResourceStore
{
    public StoreSnapshot Snapshot => store.Snapshot;

    public Task<StoreWriteResult> WriteAsync(IReadOnlyList<StoreOperation> operations, CancellationToken cancellationToken = default)
    {
        if (!leadership.IsLeader)
        {
            return Task.FromResult(NotLeader(store.Snapshot.Revision));
        }

        return leadership.Fence is { } fence && store is IFencedStore fenced
            ? fenced.WriteAsync(operations, fence, cancellationToken)
            : store.WriteAsync(operations, cancellationToken);
    }

    public IAsyncEnumerable<WatchEvent> WatchAsync(long afterRevision, CancellationToken cancellationToken) => store.WatchAsync(afterRevision, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    internal static StoreWriteResult NotLeader(long revision) =>
        new(StoreErrorKind.NotLeader, "this replica no longer leads: leader-only writes are fenced", revision, []);
}
