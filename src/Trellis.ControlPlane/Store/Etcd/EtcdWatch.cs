using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;

namespace Trellis.ControlPlane.Store.Etcd;

/// <summary>Events of one watch response, or (with none) a progress report: everything up to <see cref="Revision"/> has been sent.</summary>
public sealed record EtcdWatchBatch(IReadOnlyList<Mvccpb.Event> Events, long Revision);

/// <summary>etcd compacted the history a watch asked for: the watcher must list again.</summary>
public sealed class EtcdCompactedException(long compactRevision)
    : Exception($"etcd compacted its history up to revision {compactRevision}")
{
    public long CompactRevision { get; } = compactRevision;
}

/// <summary>
/// Follows a key range from a revision for as long as it is asked to, across member failures: a
/// broken stream is opened again on the next member from the revision after the last event seen, so
/// no event is lost or seen twice. Progress reports (etcd's WatchProgressRequest) let a caller learn
/// that it has seen everything up to the cluster's current revision.
/// </summary>
public sealed class EtcdWatch(EtcdConnection etcd, string key, string? rangeEnd) : IDisposable
{
    private readonly SemaphoreSlim _send = new(1, 1);
    private IClientStreamWriter<WatchRequest>? _requests;

    /// <summary>Runs until cancelled, calling <paramref name="onBatch"/> in order. Throws <see cref="EtcdCompactedException"/> when the start is too old.</summary>
    public async Task RunAsync(long startRevision, Func<EtcdWatchBatch, Task> onBatch, CancellationToken cancellationToken)
    {
        var next = startRevision;
        var backoff = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var index = etcd.CurrentIndex;
            try
            {
                using var call = etcd.Watch.Watch(EtcdConnection.RequireLeader, cancellationToken: cancellationToken);
                await SendAsync(call.RequestStream, new WatchRequest
                {
                    CreateRequest = new WatchCreateRequest
                    {
                        Key = ByteString.CopyFromUtf8(key),
                        RangeEnd = rangeEnd is null ? ByteString.Empty : ByteString.CopyFromUtf8(rangeEnd),
                        StartRevision = next,
                        PrevKv = true,
                    },
                }, cancellationToken);
                _requests = call.RequestStream;
                while (await call.ResponseStream.MoveNext(cancellationToken))
                {
                    var response = call.ResponseStream.Current;
                    if (response.CompactRevision > 0)
                    {
                        throw new EtcdCompactedException(response.CompactRevision);
                    }

                    if (response.Canceled)
                    {
                        break; // the member lost its leader or is shutting down: go on elsewhere
                    }

                    backoff = TimeSpan.FromMilliseconds(50);
                    if (response.Events.Count > 0)
                    {
                        next = response.Events[^1].Kv.ModRevision + 1;
                        await onBatch(new EtcdWatchBatch(response.Events, next - 1));
                    }
                    else if (!response.Created)
                    {
                        // A progress report: every event up to the header's revision has been sent.
                        await onBatch(new EtcdWatchBatch([], response.Header.Revision));
                    }
                }
            }
            catch (RpcException) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
            catch (RpcException e) when (EtcdConnection.IsUnreachable(e))
            {
            }
            catch (IOException) when (!cancellationToken.IsCancellationRequested)
            {
            }
            finally
            {
                _requests = null;
            }

            etcd.Failover(index);
            await Task.Delay(backoff, cancellationToken);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
        }
    }

    /// <summary>Asks for a progress report on the open stream; false when no stream is open right now.</summary>
    public async Task<bool> RequestProgressAsync(CancellationToken cancellationToken)
    {
        if (_requests is not { } requests)
        {
            return false;
        }

        try
        {
            await SendAsync(requests, new WatchRequest { ProgressRequest = new WatchProgressRequest() }, cancellationToken);
            return true;
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or IOException)
        {
            return false;
        }
    }

    public void Dispose() => _send.Dispose();

    private async Task SendAsync(IClientStreamWriter<WatchRequest> requests, WatchRequest request, CancellationToken cancellationToken)
    {
        // A gRPC request stream takes one write at a time; progress requests come from other threads.
        await _send.WaitAsync(cancellationToken);
        try
        {
            await requests.WriteAsync(request, cancellationToken);
        }
        finally
        {
            _send.Release();
        }
    }
}
