using System.Text;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Trellis.ControlPlane.Store.Etcd;

namespace Trellis.ControlPlane.Leadership;

/// <summary>
/// Leader election on an etcd lease, as Kubernetes' and etcd's own election recipes do: each replica
/// holds a lease it keeps alive, and the leader is the replica whose transaction "create the leader
/// key if it does not exist, attached to my lease" succeeded. The key disappears with the lease when
/// the leader dies (after <see cref="Ttl"/>) or at once when it stops gracefully (lease revoked).
/// <para>
/// Followers retry the transaction every <see cref="RetryInterval"/>, so a dead leader is replaced
/// within TTL + interval (3 s + 0.5 s by default). A leader that cannot renew its lease steps down
/// one second before the lease could have expired, so two replicas never both believe they lead,
/// as long as clocks run at the same rate (the same assumption etcd's leases make).
/// </para>
/// </summary>
public sealed partial class EtcdLeaderElection : ILeadership, IAsyncDisposable
{
    private readonly EtcdConnection _etcd;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private volatile bool _isLeader;
    private volatile LeaderInfo? _leader;
    private long _lease;

    public EtcdLeaderElection(EtcdConnection etcd, string identity, string? apiUrl, TimeProvider time, ILogger<EtcdLeaderElection> log, TimeSpan? ttl = null)
    {
        _etcd = etcd;
        Identity = identity;
        ApiUrl = apiUrl;
        _time = time;
        _log = log;
        Ttl = ttl ?? TimeSpan.FromSeconds(3);
    }

    public string Identity { get; }

    public TimeSpan Ttl { get; }

    /// <summary>What followers are told this replica's API is.</summary>
    public string? ApiUrl { get; private set; }

    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    public bool IsLeader => _isLeader;

    public LeaderInfo? Leader => _leader;

    /// <summary>The leader key on the lease this replica leads with (lease 0, which fences everything, when it does not lead).</summary>
    public Store.WriteFence Fence => new(EtcdKeys.Leader, _isLeader ? Interlocked.Read(ref _lease) : 0);

    Store.WriteFence? ILeadership.Fence => Fence;

    /// <summary>Raised when this replica becomes leader (true) or stops being it (false).</summary>
    public event Action<bool>? Changed;

    /// <summary>Starts campaigning, once the API answers at <paramref name="apiUrl"/> (known only after it bound its port).</summary>
    public void Start(string? apiUrl)
    {
        ApiUrl ??= apiUrl;
        _loop = RunAsync(_stop.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        SetLeader(false);
        if (Interlocked.Exchange(ref _lease, 0) is var lease and not 0)
        {
            try
            {
                // Hand over at once rather than after the TTL.
                await _etcd.RevokeAsync(lease, CancellationToken.None);
            }
            catch (RpcException)
            {
            }
        }

        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        long lastRenewal = 0;
        var renewEvery = Ttl / 3;
        long lastKeepAlive = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (_lease == 0)
                {
                    var grant = await _etcd.GrantAsync(Ttl, stop);
                    _lease = grant.ID;
                    lastRenewal = lastKeepAlive = _time.GetTimestamp();
                }
                else if (_time.GetElapsedTime(lastKeepAlive) >= renewEvery)
                {
                    lastKeepAlive = _time.GetTimestamp();
                    if (await _etcd.KeepAliveOnceAsync(_lease, stop) <= 0)
                    {
                        LogLeaseLost(_log, Identity);
                        _lease = 0;
                        SetLeader(false);
                        continue;
                    }

                    lastRenewal = lastKeepAlive;
                }

                await CampaignAsync(stop);
            }
            catch (RpcException e) when (!stop.IsCancellationRequested)
            {
                LogEtcdUnreachable(_log, e.Status.Detail);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }

            // Without a renewal the lease may be gone on the server: stop leading before it can be.
            if (_isLeader && _time.GetElapsedTime(lastRenewal) > Ttl - TimeSpan.FromSeconds(1))
            {
                LogSteppedDown(_log, Identity);
                _lease = 0;
                SetLeader(false);
            }

            try
            {
                await Task.Delay(RetryInterval, _time, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Creates the leader key on this replica's lease if there is none; either way learns who leads.</summary>
    private async Task CampaignAsync(CancellationToken stop)
    {
        var key = ByteString.CopyFromUtf8(EtcdKeys.Leader);
        var value = JsonSerializer.SerializeToUtf8Bytes(new LeaderInfo(Identity, ApiUrl), LeaderJson.Options);
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFrom(value), Lease = _lease } });
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = key } });
        var response = await _etcd.TxnAsync(txn, stop);
        if (response.Succeeded)
        {
            _leader = new LeaderInfo(Identity, ApiUrl);
            SetLeader(true);
            return;
        }

        var current = response.Responses[0].ResponseRange.Kvs.FirstOrDefault();
        LeaderInfo? leader = null;
        try
        {
            leader = current is null ? null : JsonSerializer.Deserialize<LeaderInfo>(current.Value.Span, LeaderJson.Options);
        }
        catch (JsonException)
        {
        }

        _leader = leader;
        // The key is ours only if it is on our lease (a restarted replica with the same name is another replica).
        SetLeader(current is not null && current.Lease == _lease && _lease != 0);
    }

    private void SetLeader(bool leader)
    {
        if (_isLeader == leader)
        {
            return;
        }

        _isLeader = leader;
        if (leader)
        {
            LogElected(_log, Identity);
        }

        Changed?.Invoke(leader);
    }

    [LoggerMessage(EventId = 2601, Level = LogLevel.Information, Message = "Replica {Identity} is now the leader")]
    private static partial void LogElected(ILogger log, string identity);

    [LoggerMessage(EventId = 2602, Level = LogLevel.Warning, Message = "Replica {Identity} lost its lease; no longer leading")]
    private static partial void LogLeaseLost(ILogger log, string identity);

    [LoggerMessage(EventId = 2603, Level = LogLevel.Warning, Message = "Replica {Identity} could not renew its lease in time; stepping down")]
    private static partial void LogSteppedDown(ILogger log, string identity);

    [LoggerMessage(EventId = 2604, Level = LogLevel.Debug, Message = "Leader election: etcd unreachable ({Reason})")]
    private static partial void LogEtcdUnreachable(ILogger log, string reason);

    private static class LeaderJson
    {
        public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
    }
}
