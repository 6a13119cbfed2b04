namespace Trellis.ControlPlane.Store;

/// <summary>
/// The condition of a leader-only write: <see cref="Key"/> (the leader key) is still held on <see cref="Lease"/>, the
/// lease this replica won the election with. A store that shares its state with other replicas checks it in the same
/// transaction as the write (etcd: a compare on the key's lease), so a leader whose lease ended while its write was on
/// the way changes nothing: the fencing token of Kleppmann's "How to do distributed locking", with the lease as token.
/// A lease of 0 is no leadership at all and fences everything.
/// </summary>
public sealed record WriteFence(string Key, long Lease);

/// <summary>A store that can apply a batch on the condition of a <see cref="WriteFence"/>.</summary>
public interface IFencedStore
{
    /// <summary>As <see cref="IResourceStore.WriteAsync"/>, but only while <paramref name="fence"/> holds; otherwise <see cref="StoreErrorKind.NotLeader"/> and nothing changes.</summary>
    Task<StoreWriteResult> WriteAsync(IReadOnlyList<StoreOperation> operations, WriteFence fence, CancellationToken cancellationToken = default);
}
