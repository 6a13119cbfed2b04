using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Api.Registry;
using Trellis.ControlPlane.Registry;

namespace Trellis.ControlPlane.Tests.Etcd;

public sealed class EtcdRegistryTests
{
    private static NodeStatus Node(string name, params string[] instances) => new(name, null,
        instances.Select(i => new WorkloadInstance(i, name, "reviews-v1", "default", new Dictionary<string, string> { ["app"] = "reviews" }, "10.0.0.1",
            new Dictionary<string, int> { ["app"] = 9080 }, "Running", true, 0, null, 1, null)).ToList());

    [Fact]
    public async Task Report_OnOneReplica_IsSeenByTheOther_AndExpiresWithItsLease()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        using var etcd = cluster.Connect();
        var mirrorA = new ServiceRegistry();
        var mirrorB = new ServiceRegistry();
        await using var a = await EtcdRegistry.StartAsync(etcd, mirrorA, TimeSpan.FromSeconds(2), NullLogger<EtcdRegistry>.Instance, default);
        await using var b = await EtcdRegistry.StartAsync(etcd, mirrorB, TimeSpan.FromSeconds(2), NullLogger<EtcdRegistry>.Instance, default);

        await a.ReportAsync(Node("n1", "reviews-v1-aaaaa"), default);
        await EtcdLeaderElectionTests.Until(() => mirrorB.Instances.Count == 1);

        // The next heartbeat reaches the other replica, which renews the same lease.
        await b.ReportAsync(Node("n1", "reviews-v1-aaaaa", "reviews-v1-bbbbb"), default);
        await EtcdLeaderElectionTests.Until(() => mirrorA.Instances.Count == 2);

        // Then the agent goes quiet: the lease ends and every replica drops the node.
        await EtcdLeaderElectionTests.Until(() => mirrorA.Instances.Count == 0 && mirrorB.Instances.Count == 0, seconds: 8);
    }

    [Fact]
    public async Task Start_LoadsWhatIsRegistered()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        using var etcd = cluster.Connect();
        await using (var first = await EtcdRegistry.StartAsync(etcd, new ServiceRegistry(), TimeSpan.FromSeconds(30), NullLogger<EtcdRegistry>.Instance, default))
        {
            await first.ReportAsync(Node("n1", "reviews-v1-aaaaa"), default);
        }

        var mirror = new ServiceRegistry();
        await using var second = await EtcdRegistry.StartAsync(etcd, mirror, TimeSpan.FromSeconds(30), NullLogger<EtcdRegistry>.Instance, default);
        Assert.Equal("reviews-v1-aaaaa", Assert.Single(mirror.Instances).Id);
    }
}
