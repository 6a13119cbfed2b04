using System.Collections.Concurrent;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Store.Etcd;

namespace Trellis.ControlPlane.Registry;

/// <summary>
/// The registry shared by every replica through etcd: each node's last report is one key
/// (<see cref="EtcdKeys.Nodes"/>) attached to a lease of <see cref="NodeTtl"/> that every heartbeat
/// renews, on whichever replica receives it. A node whose agent goes quiet disappears when its
/// lease expires, for every replica at once, and a replica's death loses nothing. Each replica's
/// <see cref="ServiceRegistry"/> is a mirror fed by a watch of the nodes' keys.
/// </summary>
public sealed partial class EtcdRegistry : INodeReports, IAsyncDisposable
{
    private readonly EtcdConnection _etcd;
    private readonly ServiceRegistry _registry;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<string, long> _leases = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly EtcdWatch _watch;
    private Task _follow = Task.CompletedTask;

    private EtcdRegistry(EtcdConnection etcd, ServiceRegistry registry, TimeSpan nodeTtl, ILogger log)
    {
        _etcd = etcd;
        _registry = registry;
        _log = log;
        NodeTtl = nodeTtl;
        _watch = new EtcdWatch(etcd, EtcdKeys.Nodes, EtcdConnection.PrefixEnd(EtcdKeys.Nodes));
    }

    /// <summary>How long a node stays registered after its last heartbeat.</summary>
    public TimeSpan NodeTtl { get; }

    /// <summary>Loads the registered nodes into <paramref name="registry"/> and follows their changes.</summary>
    public static async Task<EtcdRegistry> StartAsync(EtcdConnection etcd, ServiceRegistry registry, TimeSpan nodeTtl, ILogger<EtcdRegistry> log, CancellationToken cancellationToken)
    {
        var mirror = new EtcdRegistry(etcd, registry, nodeTtl, log);
        var revision = await mirror.LoadAsync(cancellationToken);
        mirror._follow = mirror.FollowAsync(revision);
        return mirror;
    }

    public async Task ReportAsync(NodeStatus status, CancellationToken cancellationToken)
    {
        var lease = await LeaseOfAsync(status.Node, cancellationToken);
        var value = JsonSerializer.SerializeToUtf8Bytes(status, WireJson.Options);
        try
        {
            await _etcd.TxnAsync(Put(status.Node, value, lease), cancellationToken);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            // The lease expired between the renewal and the put (a long pause): register anew.
            _leases.TryRemove(status.Node, out _);
            await _etcd.TxnAsync(Put(status.Node, value, await LeaseOfAsync(status.Node, cancellationToken)), cancellationToken);
        }
    }

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

        _watch.Dispose();
        _stop.Dispose();
    }

    private static TxnRequest Put(string node, byte[] value, long lease)
    {
        var txn = new TxnRequest();
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(EtcdKeys.Nodes + node), Value = ByteString.CopyFrom(value), Lease = lease } });
        return txn;
    }

    /// <summary>
    /// The node's lease, renewed: the one this replica granted, or the one its key is on (granted by
    /// another replica that got the node's earlier heartbeats), or a new one.
    /// </summary>
    private async Task<long> LeaseOfAsync(string node, CancellationToken cancellationToken)
    {
        if (_leases.TryGetValue(node, out var known) && await _etcd.KeepAliveOnceAsync(known, cancellationToken) > 0)
        {
            return known;
        }

        var existing = await _etcd.RangeAsync(EtcdKeys.Nodes + node, null, cancellationToken);
        if (existing.Kvs.FirstOrDefault() is { Lease: not 0 } kv && kv.Lease != known && await _etcd.KeepAliveOnceAsync(kv.Lease, cancellationToken) > 0)
        {
            _leases[node] = kv.Lease;
            return kv.Lease;
        }

        var grant = await _etcd.GrantAsync(NodeTtl, cancellationToken);
        _leases[node] = grant.ID;
        return grant.ID;
    }

    private async Task<long> LoadAsync(CancellationToken cancellationToken)
    {
        var response = await _etcd.RangeAsync(EtcdKeys.Nodes, EtcdConnection.PrefixEnd(EtcdKeys.Nodes), cancellationToken);
        var present = new HashSet<string>(StringComparer.Ordinal);
        foreach (var kv in response.Kvs)
        {
            if (Decode(kv) is { } status)
            {
                present.Add(status.Node);
                _registry.Report(status);
            }
        }

        foreach (var gone in _registry.Nodes.Where(n => !present.Contains(n)))
        {
            _registry.Remove(gone);
        }

        return response.Header.Revision;
    }

    private async Task FollowAsync(long revision)
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await _watch.RunAsync(revision + 1, Apply, token);
            }
            catch (EtcdCompactedException)
            {
                revision = await LoadAsync(token);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private Task Apply(EtcdWatchBatch batch)
    {
        foreach (var e in batch.Events)
        {
            if (e.Type == Mvccpb.Event.Types.EventType.Put)
            {
                if (Decode(e.Kv) is { } status)
                {
                    _registry.Report(status);
                }
            }
            else
            {
                var node = e.Kv.Key.ToStringUtf8()[EtcdKeys.Nodes.Length..];
                LogNodeExpired(_log, node);
                _leases.TryRemove(node, out _);
                _registry.Remove(node);
            }
        }

        return Task.CompletedTask;
    }

    private NodeStatus? Decode(Mvccpb.KeyValue kv)
    {
        try
        {
            return JsonSerializer.Deserialize<NodeStatus>(kv.Value.Span, WireJson.Options);
        }
        catch (JsonException e)
        {
            LogUnreadable(_log, kv.Key.ToStringUtf8(), e.Message);
            return null;
        }
    }

    [LoggerMessage(EventId = 2701, Level = LogLevel.Information, Message = "Node {Node} left the registry (its lease ended)")]
    private static partial void LogNodeExpired(ILogger log, string node);

    [LoggerMessage(EventId = 2702, Level = LogLevel.Warning, Message = "Ignoring unreadable registry key {Key}: {Reason}")]
    private static partial void LogUnreadable(ILogger log, string key, string reason);
}
