using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.ControlPlane.Leadership;
using Trellis.ControlPlane.Store;
using Trellis.ControlPlane.Store.Etcd;

namespace Trellis.ControlPlane.Tests.Etcd;

/// <summary>Leader-only writes are conditioned on the leader key's lease in the same etcd transaction.</summary>
public sealed class LeaderFencingTests
{
    [Fact]
    public async Task FencedWrite_LeaseEndedAndAnotherReplicaLeads_IsRefusedAndChangesNothing()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        using var etcd = cluster.Connect();
        await using var store = await EtcdResourceStore.OpenAsync(etcd, null, NullLogger<EtcdResourceStore>.Instance);
        await using var election = new EtcdLeaderElection(etcd, "a", null, TimeProvider.System, NullLogger<EtcdLeaderElection>.Instance, TimeSpan.FromSeconds(10));
        election.Start(null);
        await EtcdLeaderElectionTests.Until(() => election.IsLeader);
        var leaderStore = new LeaderStore(store, election);
        Assert.True((await leaderStore.WriteAsync([new PutOperation(TestResources.One(TestResources.ReviewsService))])).Succeeded);

        // The leader's write is on its way when its lease ends (etcd expired it while the replica was paused) and
        // another replica takes the leader key on its own lease.
        var stale = election.Fence;
        await etcd.RevokeAsync(stale.Lease, default);
        var other = await etcd.GrantAsync(TimeSpan.FromSeconds(30), default);
        var take = new TxnRequest();
        take.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(EtcdKeys.Leader), Value = ByteString.CopyFromUtf8("{\"identity\":\"b\"}"), Lease = other.ID } });
        await etcd.TxnAsync(take, default);
        var before = store.Snapshot;

        var result = await store.WriteAsync([new PutOperation(TestResources.One(TestResources.ReviewsRule))], stale);

        Assert.Equal(StoreErrorKind.NotLeader, result.Error);
        Assert.Same(before, store.Snapshot);
        var stored = await etcd.RangeAsync(EtcdKeys.Resources, EtcdConnection.PrefixEnd(EtcdKeys.Resources), default);
        Assert.Single(stored.Kvs); // the Service only
    }

    [Fact]
    public async Task FencedWrite_LeaderKeyGone_IsRefused_AndTheCurrentLeaseIsAccepted()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        using var etcd = cluster.Connect();
        await using var store = await EtcdResourceStore.OpenAsync(etcd, null, NullLogger<EtcdResourceStore>.Instance);
        var lease = await etcd.GrantAsync(TimeSpan.FromSeconds(30), default);
        var fence = new WriteFence(EtcdKeys.Leader, lease.ID);

        // No leader key at all (a missing key compares as lease 0): refused.
        Assert.Equal(StoreErrorKind.NotLeader, (await store.WriteAsync([new PutOperation(TestResources.One(TestResources.ReviewsService))], fence)).Error);
        Assert.Empty(store.Snapshot.Objects);

        var take = new TxnRequest();
        take.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(EtcdKeys.Leader), Value = ByteString.CopyFromUtf8("{}"), Lease = lease.ID } });
        await etcd.TxnAsync(take, default);

        Assert.True((await store.WriteAsync([new PutOperation(TestResources.One(TestResources.ReviewsService))], fence)).Succeeded);
        Assert.Equal(StoreErrorKind.NotLeader, (await store.WriteAsync([new PutOperation(TestResources.One(TestResources.ReviewsRule))], fence with { Lease = 0 })).Error);
    }

    [Fact]
    public async Task LeaderStore_NotLeading_RefusesWithoutWriting()
    {
        var dir = Path.Combine(Path.GetTempPath(), "trellis-fence-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var file = FileResourceStore.Open(dir);
            var store = new LeaderStore(file, new Follower());

            var result = await store.WriteAsync([new PutOperation(TestResources.One(TestResources.ReviewsService))]);

            Assert.Equal(StoreErrorKind.NotLeader, result.Error);
            Assert.Empty(file.Snapshot.Objects);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed class Follower : ILeadership
    {
        public string Identity => "b";

        public bool IsLeader => false;

        public LeaderInfo? Leader => new("a", null);

        public WriteFence? Fence => null;
    }
}
