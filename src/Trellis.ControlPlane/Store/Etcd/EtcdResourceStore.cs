using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Trellis.Api;

namespace Trellis.ControlPlane.Store.Etcd;

/// <summary>
/// The distributed store: every resource is one etcd key (<see cref="EtcdKeys.Resource"/>) holding its
/// JSON; its resourceVersion is the key's mod_revision and the store revision is etcd's, as in
/// Kubernetes' etcd3 storage. Each replica keeps an in-memory mirror fed by one watch, so reads and
/// <see cref="IResourceStore.Snapshot"/> cost what they cost on the file store.
/// <para>
/// A batch is decided by the same <see cref="BatchApplier"/> as the file store, against the mirror,
/// and written as one etcd transaction guarded by the mod_revision of every key it touches: it
/// applies whole at one revision, or (another replica wrote one of those keys in between) not at
/// all, and is then decided again on the caught-up mirror. etcd acknowledges a transaction once a
/// quorum has it on disk, which is the file store's durability promise made by a cluster. A write
/// returns once the mirror has seen it, so a reader of this replica sees its own writes.
/// </para>
/// </summary>
public sealed partial class EtcdResourceStore : IResourceStore, IFencedStore
{
    private const int MaxAttempts = 20;

    private readonly EtcdConnection _etcd;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly EtcdWatch _watch;
    private readonly WatchFeed _feed;
    private Task _follow = Task.CompletedTask;
    private long _observed;
    private volatile StoreSnapshot _snapshot;
    private TaskCompletionSource _advanced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private EtcdResourceStore(EtcdConnection etcd, StoreSnapshot initial, TimeProvider time, ILogger log)
    {
        _etcd = etcd;
        _time = time;
        _log = log;
        _snapshot = initial;
        _feed = new WatchFeed(initial.Revision);
        _observed = initial.Revision;
        _watch = new EtcdWatch(etcd, EtcdKeys.Resources, EtcdConnection.PrefixEnd(EtcdKeys.Resources));
    }

    public StoreSnapshot Snapshot => _snapshot;

    /// <summary>Lists every resource and starts following changes from there.</summary>
    public static async Task<EtcdResourceStore> OpenAsync(EtcdConnection etcd, TimeProvider? time, ILogger<EtcdResourceStore> log, CancellationToken cancellationToken = default)
    {
        var (objects, revision) = await ListAsync(etcd, cancellationToken);
        var store = new EtcdResourceStore(etcd, new StoreSnapshot(revision, objects), time ?? TimeProvider.System, log);
        store._follow = store.FollowAsync();
        return store;
    }

    public Task<StoreWriteResult> WriteAsync(IReadOnlyList<StoreOperation> operations, CancellationToken cancellationToken = default) =>
        WriteBatchAsync(operations, null, cancellationToken);

    public Task<StoreWriteResult> WriteAsync(IReadOnlyList<StoreOperation> operations, WriteFence fence, CancellationToken cancellationToken = default) =>
        WriteBatchAsync(operations, fence, cancellationToken);

    private async Task<StoreWriteResult> WriteBatchAsync(IReadOnlyList<StoreOperation> operations, WriteFence? fence, CancellationToken cancellationToken)
    {
        if (fence is { Lease: 0 })
        {
            return Leadership.LeaderStore.NotLeader(_snapshot.Revision);
        }

        // One writer per replica at a time keeps batches of this replica in order; replicas race through etcd's compares.
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                var snapshot = _snapshot;
                var objects = (ImmutableDictionary<ResourceKey, StoredResource>)snapshot.Objects;
                var outcome = BatchApplier.Apply(objects, operations, snapshot.Revision + 1, _time.GetUtcNow(), () => Guid.NewGuid().ToString());
                if (outcome.Error != StoreErrorKind.None)
                {
                    return new StoreWriteResult(outcome.Error, outcome.Message, snapshot.Revision, []);
                }

                if (outcome.Events.Count == 0)
                {
                    return new StoreWriteResult(StoreErrorKind.None, null, snapshot.Revision, outcome.Outcomes);
                }

                var response = await _etcd.TxnAsync(Transaction(objects, operations, outcome.Events, fence), CancellationToken.None);
                if (response.Succeeded)
                {
                    var revision = response.Header.Revision;
                    await WaitForAsync(revision, cancellationToken);
                    return new StoreWriteResult(StoreErrorKind.None, null, revision, outcome.Outcomes.Select(o => At(o, revision)).ToList());
                }

                // The failure branch read the leader key: not on the fence's lease any more, the write is refused for good.
                if (fence is not null && response.Responses[0].ResponseRange.Kvs.FirstOrDefault()?.Lease != fence.Lease)
                {
                    LogFenced(_log, fence.Lease);
                    return Leadership.LeaderStore.NotLeader(snapshot.Revision);
                }

                // Another replica changed a key of this batch: decide again once the mirror has its write.
                LogConflict(_log, attempt);
                if (attempt + 1 >= MaxAttempts)
                {
                    return new StoreWriteResult(StoreErrorKind.Conflict, "the objects kept changing under this write; try again", snapshot.Revision, []);
                }

                await CatchUpAsync(response.Header.Revision, cancellationToken);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public IAsyncEnumerable<WatchEvent> WatchAsync(long afterRevision, CancellationToken cancellationToken) =>
        _feed.WatchAsync(afterRevision, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _follow;
        }
        catch (OperationCanceledException)
        {
        }

        _feed.Complete();

        _watch.Dispose();
        _stop.Dispose();
    }

    private static TxnRequest Transaction(ImmutableDictionary<ResourceKey, StoredResource> objects, IReadOnlyList<StoreOperation> operations, IReadOnlyList<WatchEvent> events, WriteFence? fence)
    {
        var txn = new TxnRequest();
        if (fence is not null)
        {
            // Leader-only: the leader key must still be on the lease the leadership was won with (a missing key compares as lease 0).
            var leader = ByteString.CopyFromUtf8(fence.Key);
            txn.Compare.Add(new Compare { Key = leader, Target = Compare.Types.CompareTarget.Lease, Result = Compare.Types.CompareResult.Equal, Lease = fence.Lease });
            txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = leader } });
        }

        foreach (var key in operations.Select(o => o.Key).Distinct())
        {
            // The batch was decided on this view of each key it touches; it applies only if none moved.
            var etcdKey = ByteString.CopyFromUtf8(EtcdKeys.Resource(key));
            txn.Compare.Add(objects.TryGetValue(key, out var stored)
                ? new Compare { Key = etcdKey, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = stored.ResourceVersion }
                : new Compare { Key = etcdKey, Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = 0 });
        }

        foreach (var e in events)
        {
            var key = ByteString.CopyFromUtf8(EtcdKeys.Resource(e.Object.Resource.Key));
            txn.Success.Add(e.Type == WatchEventType.Deleted
                ? new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = key } }
                : new RequestOp { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFrom(EtcdKeys.Encode(e.Object.Resource)) } });
        }

        return txn;
    }

    private static OperationOutcome At(OperationOutcome outcome, long revision) =>
        outcome.Result is { } r && outcome.Change is ChangeKind.Created or ChangeKind.Configured
            ? outcome with { Result = EtcdKeys.At(r.Resource, revision) }
            : outcome;

    private static async Task<(ImmutableDictionary<ResourceKey, StoredResource>, long)> ListAsync(EtcdConnection etcd, CancellationToken cancellationToken)
    {
        var response = await etcd.RangeAsync(EtcdKeys.Resources, EtcdConnection.PrefixEnd(EtcdKeys.Resources), cancellationToken);
        var objects = ImmutableDictionary.CreateBuilder<ResourceKey, StoredResource>();
        foreach (var kv in response.Kvs)
        {
            var stored = EtcdKeys.Decode(kv.Value.Span, kv.ModRevision, kv.Key.ToStringUtf8());
            objects[stored.Resource.Key] = stored;
        }

        return (objects.ToImmutable(), response.Header.Revision);
    }

    private async Task FollowAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await _watch.RunAsync(_snapshot.Revision + 1, ApplyAsync, token);
            }
            catch (EtcdCompactedException e)
            {
                // The history this mirror needs is gone (a long partition): list again and publish the difference.
                LogRelist(_log, e.CompactRevision);
                try
                {
                    var (objects, revision) = await ListAsync(_etcd, token);
                    Replace(objects, revision);
                }
                catch (Grpc.Core.RpcException failed)
                {
                    LogListFailed(_log, failed.Status.Detail);
                    await Task.Delay(TimeSpan.FromMilliseconds(200), token);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private Task ApplyAsync(EtcdWatchBatch batch)
    {
        if (batch.Events.Count == 0)
        {
            Advance(batch.Revision);
            return Task.CompletedTask;
        }

        var objects = ((ImmutableDictionary<ResourceKey, StoredResource>)_snapshot.Objects).ToBuilder();
        var events = new List<WatchEvent>(batch.Events.Count);
        foreach (var e in batch.Events)
        {
            var revision = e.Kv.ModRevision;
            if (e.Type == Mvccpb.Event.Types.EventType.Put)
            {
                var stored = EtcdKeys.Decode(e.Kv.Value.Span, revision, e.Kv.Key.ToStringUtf8());
                events.Add(new WatchEvent(objects.ContainsKey(stored.Resource.Key) ? WatchEventType.Modified : WatchEventType.Added, stored, revision));
                objects[stored.Resource.Key] = stored;
            }
            else if (e.PrevKv is { } prev && prev.Value.Length > 0)
            {
                var gone = EtcdKeys.Decode(prev.Value.Span, revision, prev.Key.ToStringUtf8());
                objects.Remove(gone.Resource.Key);
                events.Add(new WatchEvent(WatchEventType.Deleted, gone, revision));
            }
        }

        Publish(new StoreSnapshot(batch.Revision, objects.ToImmutable()), events);
        return Task.CompletedTask;
    }

    private void Replace(ImmutableDictionary<ResourceKey, StoredResource> objects, long revision)
    {
        var old = _snapshot.Objects;
        var events = new List<WatchEvent>();
        foreach (var (key, stored) in objects)
        {
            if (!old.TryGetValue(key, out var was))
            {
                events.Add(new WatchEvent(WatchEventType.Added, stored, revision));
            }
            else if (was.ResourceVersion != stored.ResourceVersion)
            {
                events.Add(new WatchEvent(WatchEventType.Modified, stored, revision));
            }
        }

        events.AddRange(old.Where(o => !objects.ContainsKey(o.Key)).Select(o => new WatchEvent(WatchEventType.Deleted, o.Value with { ResourceVersion = revision }, revision)));
        Publish(new StoreSnapshot(revision, objects), events);
    }

    private void Publish(StoreSnapshot snapshot, List<WatchEvent> events)
    {
        // The snapshot moves under the feed's lock: a watcher never sees it ahead of or behind the stream.
        _feed.Publish(events, () => _snapshot = snapshot);
        Advance(snapshot.Revision);
    }

    private void Advance(long revision)
    {
        long seen;
        do
        {
            seen = Interlocked.Read(ref _observed);
            if (revision <= seen)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _observed, revision, seen) != seen);

        Interlocked.Exchange(ref _advanced, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Waits until the mirror has seen everything up to <paramref name="revision"/>.</summary>
    private async Task WaitForAsync(long revision, CancellationToken cancellationToken)
    {
        while (Interlocked.Read(ref _observed) < revision)
        {
            var signal = Volatile.Read(ref _advanced).Task;
            if (Interlocked.Read(ref _observed) >= revision)
            {
                return;
            }

            await signal.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// After a failed compare: etcd's revision was <paramref name="revision"/>, possibly moved by keys
    /// outside the resources (the registry, the leader key), whose events this mirror never sees. A
    /// progress report tells the mirror it has seen all there is up to there.
    /// </summary>
    private async Task CatchUpAsync(long revision, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        while (Interlocked.Read(ref _observed) < revision && !timeout.IsCancellationRequested)
        {
            var signal = Volatile.Read(ref _advanced).Task;
            await _watch.RequestProgressAsync(timeout.Token);
            try
            {
                await signal.WaitAsync(TimeSpan.FromMilliseconds(100), timeout.Token);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }
        }
    }

    [LoggerMessage(EventId = 2504, Level = LogLevel.Warning, Message = "etcd store: a leader-only write was fenced (the leader key is no longer on lease {Lease}); not applied")]
    private static partial void LogFenced(ILogger log, long lease);

    [LoggerMessage(EventId = 2501, Level = LogLevel.Debug, Message = "etcd store: a batch met a concurrent write (attempt {Attempt}); deciding it again")]
    private static partial void LogConflict(ILogger log, int attempt);

    [LoggerMessage(EventId = 2502, Level = LogLevel.Warning, Message = "etcd store: history compacted up to {Revision} while this replica was away; listing again")]
    private static partial void LogRelist(ILogger log, long revision);

    [LoggerMessage(EventId = 2503, Level = LogLevel.Warning, Message = "etcd store: listing failed ({Reason}); retrying")]
    private static partial void LogListFailed(ILogger log, string reason);
}
