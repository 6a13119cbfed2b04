using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.ControlPlane.Leadership;

namespace Trellis.ControlPlane.Tests.Etcd;

public sealed class EtcdLeaderElectionTests
{
    private static EtcdLeaderElection Start(Trellis.ControlPlane.Store.Etcd.EtcdConnection etcd, string name)
    {
        var election = new EtcdLeaderElection(etcd, name, $"http://{name}", TimeProvider.System, NullLogger<EtcdLeaderElection>.Instance, TimeSpan.FromSeconds(2));
        election.Start(null);
        return election;
    }

    [Fact]
    public async Task TwoReplicas_ExactlyOneLeads_AndTheOtherKnowsWho()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        using var etcd = cluster.Connect();
        await using var a = Start(etcd, "a");
        await using var b = Start(etcd, "b");

        await Until(() => (a.IsLeader ? 1 : 0) + (b.IsLeader ? 1 : 0) == 1 && a.Leader is not null && b.Leader is not null);

        var leader = a.IsLeader ? a : b;
        var follower = a.IsLeader ? b : a;
        Assert.Equal(leader.Identity, follower.Leader!.Identity);
        Assert.Equal($"http://{leader.Identity}", follower.Leader.ApiUrl);
    }

    [Fact]
    public async Task LeaderStopsGracefully_TheOtherLeadsAtOnce()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        using var etcd = cluster.Connect();
        var a = Start(etcd, "a");
        await Until(() => a.IsLeader);
        await using var b = Start(etcd, "b");
        await Until(() => b.Leader?.Identity == "a");

        var clock = Stopwatch.StartNew();
        await a.DisposeAsync(); // revokes its lease

        await Until(() => b.IsLeader);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task LeaderCutOffFromEtcd_StepsDown_AndTheOtherLeadsAfterTheLease()
    {
        await using var cluster = await EtcdCluster.StartAsync(members: 3);
        using var etcdA = new Trellis.ControlPlane.Store.Etcd.EtcdConnection([cluster.Endpoints[0]]);
        using var etcdB = new Trellis.ControlPlane.Store.Etcd.EtcdConnection([cluster.Endpoints[1], cluster.Endpoints[2]]);
        await using var a = Start(etcdA, "a");
        await Until(() => a.IsLeader);
        await using var b = Start(etcdB, "b");
        await Until(() => b.Leader?.Identity == "a");

        // The only member replica a can reach dies (as when a's host is partitioned): it renews nothing.
        cluster.Kill(0);

        await Until(() => !a.IsLeader, seconds: 5);
        await Until(() => b.IsLeader, seconds: 8);
    }

    internal static async Task Until(Func<bool> condition, int seconds = 10)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(20);
        }
    }
}
