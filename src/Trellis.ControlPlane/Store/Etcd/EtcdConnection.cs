using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Trellis.ControlPlane.Store.Etcd;

/// <summary>
/// The control plane's connection to an etcd cluster: one gRPC channel per member, calls sent to the
/// current member and moved to the next one when it is unreachable (etcd's clientv3 balancer does the
/// same). Every member of a healthy cluster serves linearizable reads and writes, so which one answers
/// does not matter; a member cut off from the quorum answers <c>Unavailable</c> and is skipped.
/// </summary>
public sealed class EtcdConnection : IDisposable
{
    /// <summary>Watches ask the member to cancel them when it loses its leader (clientv3's WithRequireLeader), so a
    /// partitioned member cannot leave a watch silently stalled.</summary>
    public static readonly Metadata RequireLeader = new() { { "hasleader", "true" } };

    private readonly GrpcChannel[] _channels;
    private int _current;

    public EtcdConnection(IReadOnlyList<Uri> endpoints)
    {
        if (endpoints.Count == 0)
        {
            throw new ArgumentException("at least one etcd endpoint is needed", nameof(endpoints));
        }

        Endpoints = endpoints;
        _channels = endpoints.Select(e => GrpcChannel.ForAddress(e, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                UseProxy = false,
                ConnectTimeout = TimeSpan.FromSeconds(1),
                EnableMultipleHttp2Connections = true,
                // A member that died without closing its sockets is noticed by pings, not by the next call's timeout.
                KeepAlivePingDelay = TimeSpan.FromSeconds(2),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(2),
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            },
        })).ToArray();
    }

    public IReadOnlyList<Uri> Endpoints { get; }

    /// <summary>How long one unary call may take on one member before the next is tried.</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Parses <c>etcd://host:2379[,host2:2379...]</c> (also <c>etcd+https://</c>, not supported until
    /// the security work brings client certificates). Returns an error message instead on bad input.
    /// </summary>
    public static (IReadOnlyList<Uri> Endpoints, string? Error) ParseUrl(string url)
    {
        const string scheme = "etcd://";
        if (!url.StartsWith(scheme, StringComparison.Ordinal))
        {
            return ([], $"--store {url}: expected etcd://host:port[,host:port...] (or nothing for the embedded file store)");
        }

        var endpoints = new List<Uri>();
        foreach (var part in url[scheme.Length..].TrimEnd('/').Split(',', StringSplitOptions.TrimEntries))
        {
            // etcd's client port is 2379 unless given; "[::1]:2379" has colons but ends with a port.
            var hostPort = part.Contains(':', StringComparison.Ordinal) && !part.EndsWith(']') ? part : part + ":2379";
            if (part.Length == 0 || part.Contains('/', StringComparison.Ordinal) || part.Contains('@', StringComparison.Ordinal)
                || !Uri.TryCreate("http://" + hostPort, UriKind.Absolute, out var uri) || uri.Port <= 0)
            {
                return ([], $"--store {url}: \"{part}\" is not host:port");
            }

            endpoints.Add(uri);
        }

        return (endpoints, null);
    }

    /// <summary>The KV service of the member calls go to now.</summary>
    public KV.KVClient Kv => new(Current);

    public Watch.WatchClient Watch => new(Current);

    public Lease.LeaseClient Lease => new(Current);

    private GrpcChannel Current => _channels[Volatile.Read(ref _current) % _channels.Length];

    /// <summary>
    /// Runs a unary call, moving through the members while they are unreachable; throws the last
    /// <see cref="RpcException"/> when none answered. Errors that are answers (a failed compare is not
    /// one: it is a normal response) are not retried.
    /// </summary>
    public async Task<T> CallAsync<T>(Func<CallInvoker, CallOptions, Task<T>> call, CancellationToken cancellationToken)
    {
        RpcException? last = null;
        for (var attempt = 0; attempt < _channels.Length * 2; attempt++)
        {
            var index = Volatile.Read(ref _current);
            var channel = _channels[index % _channels.Length];
            try
            {
                return await call(channel.CreateCallInvoker(), new CallOptions(deadline: DateTime.UtcNow + CallTimeout, cancellationToken: cancellationToken));
            }
            catch (RpcException e) when (IsUnreachable(e) && !cancellationToken.IsCancellationRequested)
            {
                last = e;
                Failover(index);
            }
        }

        throw last!;
    }

    /// <summary>Moves to the next member unless another caller already did since <paramref name="failedIndex"/> was read.</summary>
    public void Failover(int failedIndex) => Interlocked.CompareExchange(ref _current, failedIndex + 1, failedIndex);

    /// <summary>The index of the member in use, to pass to <see cref="Failover"/> after a stream on it broke.</summary>
    public int CurrentIndex => Volatile.Read(ref _current);

    public static bool IsUnreachable(RpcException e) =>
        e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown or StatusCode.Cancelled;

    public Task<RangeResponse> RangeAsync(string key, string? rangeEnd, CancellationToken cancellationToken) =>
        CallAsync((invoker, options) => new KV.KVClient(invoker).RangeAsync(new RangeRequest
        {
            Key = ByteString.CopyFromUtf8(key),
            RangeEnd = rangeEnd is null ? ByteString.Empty : ByteString.CopyFromUtf8(rangeEnd),
        }, options).ResponseAsync, cancellationToken);

    public Task<TxnResponse> TxnAsync(TxnRequest txn, CancellationToken cancellationToken) =>
        CallAsync((invoker, options) => new KV.KVClient(invoker).TxnAsync(txn, options).ResponseAsync, cancellationToken);

    public Task<LeaseGrantResponse> GrantAsync(TimeSpan ttl, CancellationToken cancellationToken) =>
        CallAsync((invoker, options) => new Lease.LeaseClient(invoker).LeaseGrantAsync(new LeaseGrantRequest { TTL = (long)Math.Ceiling(ttl.TotalSeconds) }, options).ResponseAsync, cancellationToken);

    public Task<LeaseRevokeResponse> RevokeAsync(long lease, CancellationToken cancellationToken) =>
        CallAsync((invoker, options) => new Lease.LeaseClient(invoker).LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, options).ResponseAsync, cancellationToken);

    /// <summary>
    /// Renews a lease once. etcd has no unary keep-alive, so this opens the keep-alive stream, sends
    /// one request and reads one answer. Returns the remaining TTL in seconds; 0 or less means the lease is gone.
    /// </summary>
    public Task<long> KeepAliveOnceAsync(long lease, CancellationToken cancellationToken) =>
        CallAsync(async (invoker, options) =>
        {
            using var stream = new Lease.LeaseClient(invoker).LeaseKeepAlive(options);
            await stream.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = lease }, cancellationToken);
            await stream.RequestStream.CompleteAsync();
            return await stream.ResponseStream.MoveNext(cancellationToken) ? stream.ResponseStream.Current.TTL : 0;
        }, cancellationToken);

    /// <summary>The end of the key range of every key that starts with <paramref name="prefix"/> (clientv3's GetPrefixRangeEnd).</summary>
    public static string PrefixEnd(string prefix) => prefix[..^1] + (char)(prefix[^1] + 1);

    public void Dispose()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
    }
}
