using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Api;
using Trellis.ControlPlane.Store;
using Trellis.ControlPlane.Store.Etcd;

namespace Trellis.ControlPlane.Tests.Etcd;

/// <summary>The file store's guarantees, on etcd, with two replicas of the store sharing one cluster.</summary>
public sealed class EtcdResourceStoreTests
{
    private static Task<EtcdResourceStore> OpenAsync(EtcdConnection etcd) =>
        EtcdResourceStore.OpenAsync(etcd, null, NullLogger<EtcdResourceStore>.Instance);

    [Fact]
    public async Task Write_ResourceVersionIsTheEtcdRevision_AndAnotherReplicaSeesIt()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        using var etcd1 = cluster.Connect();
        using var etcd2 = cluster.Connect();
        await using var one = await OpenAsync(etcd1);
        await using var two = await OpenAsync(etcd2);

        var result = await one.WriteAsync([new PutOperation(TestResources.One(TestResources.ReviewsService))]);

        Assert.True(result.Succeeded);
        var written = Assert.Single(result.Outcomes).Result!;
        Assert.Equal(result.Revision, written.ResourceVersion);
        Assert.Equal(result.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture), written.Resource.Metadata.ResourceVersion);
        Assert.Equal(result.Revision, one.Snapshot.Revision); // read-your-writes on the replica that wrote
        var key = written.Resource.Key;
        var seen = await Eventually(() => two.Snapshot.Get(key));
        Assert.Equal(written.ResourceVersion, seen.ResourceVersion);
        Assert.Equal(written.Resource.Metadata.Uid, seen.Resource.Metadata.Uid);

        // A new replica (or a restarted one) lists it back from etcd.
        using var etcd3 = cluster.Connect();
        await using var three = await OpenAsync(etcd3);
        Assert.Equal(written.ResourceVersion, three.Snapshot.Get(key)!.ResourceVersion);
    }

    [Fact]
    public async Task Write_BatchWithOneFailingOperation_ChangesNothing()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        using var etcd = cluster.Connect();
        await using var store = await OpenAsync(etcd);
        await store.WriteAsync([new PutOperation(TestResources.One(TestResources.ReviewsService))]);
        var before = store.Snapshot;

        var result = await store.WriteAsync([
            new PutOperation(TestResources.One(TestResources.ReviewsRule)),
            new PutOperation(TestResources.One(TestResources.ReviewsService), PutMode.CreateOnly),
        ]);

        Assert.Equal(StoreErrorKind.AlreadyExists, result.Error);
        Assert.Same(before, store.Snapshot);
        using var check = cluster.Connect();
        var stored = await check.RangeAsync(EtcdKeys.Resources, EtcdConnection.PrefixEnd(EtcdKeys.Resources), default);
        Assert.Single(stored.Kvs);
    }

    [Fact]
    public async Task Write_ManyDocuments_ApplyAtOneRevision()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        using var etcd = cluster.Connect();
        await using var store = await OpenAsync(etcd);

        var result = await store.WriteAsync([
            new PutOperation(TestResources.One(TestResources.ReviewsService)),
            new PutOperation(TestResources.One(TestResources.ReviewsRule)),
        ]);

        Assert.True(result.Succeeded);
        Assert.All(result.Outcomes, o => Assert.Equal(result.Revision, o.Result!.ResourceVersion));
        Assert.Equal(2, store.Snapshot.Objects.Count);
    }

    [Fact]
    public async Task Write_StaleExpectedVersionFromAnotherReplicasWrite_IsAConflict()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        using var etcd1 = cluster.Connect();
        using var etcd2 = cluster.Connect();
        await using var one = await OpenAsync(etcd1);
        await using var two = await OpenAsync(etcd2);
        var created = (await one.WriteAsync([new PutOperation(TestResources.One(TestResources.ReviewsService))])).Outcomes[0].Result!;
        await Eventually(() => two.Snapshot.Get(created.Resource.Key));
        var changed = created.Resource with { Metadata = created.Resource.Metadata with { Labels = new Dictionary<string, string> { ["v"] = "2" } } };
        Assert.True((await two.WriteAsync([new PutOperation(changed) { ExpectedResourceVersion = created.ResourceVersion }])).Succeeded);

        // Replica one may not have seen that write yet; its compare in etcd catches it either way.
        var stale = created.Resource with { Metadata = created.Resource.Metadata with { Labels = new Dictionary<string, string> { ["v"] = "3" } } };
        var result = await one.WriteAsync([new PutOperation(stale) { ExpectedResourceVersion = created.ResourceVersion }]);

        Assert.Equal(StoreErrorKind.Conflict, result.Error);
        Assert.Equal("2", one.Snapshot.Get(created.Resource.Key)!.Resource.Metadata.Labels!["v"]);
    }

    [Fact]
    public async Task Write_ConcurrentCreatesOnTwoReplicas_ExactlyOneWins()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        using var etcd1 = cluster.Connect();
        using var etcd2 = cluster.Connect();
        await using var one = await OpenAsync(etcd1);
        await using var two = await OpenAsync(etcd2);
        var service = TestResources.One(TestResources.ReviewsService);

        var results = await Task.WhenAll(
            one.WriteAsync([new PutOperation(service, PutMode.CreateOnly)]),
            two.WriteAsync([new PutOperation(service, PutMode.CreateOnly)]));

        Assert.Single(results, r => r.Succeeded);
        Assert.Single(results, r => r.Error == StoreErrorKind.AlreadyExists);
    }

    [Fact]
    public async Task Watch_FromARevision_ReplaysThenFollows_AndDeletesCarryTheObject()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        using var etcd = cluster.Connect();
        await using var store = await OpenAsync(etcd);
        var start = store.Snapshot.Revision;
        var created = await store.WriteAsync([new PutOperation(TestResources.One(TestResources.ReviewsService))]);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var events = new List<WatchEvent>();
        var watching = Task.Run(async () =>
        {
            await foreach (var e in store.WatchAsync(start, cts.Token))
            {
                events.Add(e);
                if (events.Count == 2)
                {
                    return;
                }
            }
        });

        var deleted = await store.WriteAsync([new DeleteOperation(created.Outcomes[0].Key)]);
        await watching;

        Assert.Equal([WatchEventType.Added, WatchEventType.Deleted], events.Select(e => e.Type));
        Assert.Equal(created.Revision, events[0].Revision);
        Assert.Equal(deleted.Revision, events[1].Revision);
        Assert.Equal("reviews", events[1].Object.Resource.Metadata.Name);
        Assert.Empty(store.Snapshot.Objects);
    }

    [Fact]
    public async Task Write_TheMemberInUseDies_TheNextMemberTakesTheWrite()
    {
        await using var cluster = await EtcdCluster.StartAsync(members: 3);
        using var etcd = cluster.Connect();
        await using var store = await OpenAsync(etcd);
        Assert.True((await store.WriteAsync([new PutOperation(TestResources.One(TestResources.ReviewsService))])).Succeeded);

        cluster.Kill(etcd.CurrentIndex % 3);
        var result = await store.WriteAsync([new PutOperation(TestResources.One(TestResources.ReviewsRule))]);

        Assert.True(result.Succeeded);
        Assert.Equal(2, store.Snapshot.Objects.Count); // the mirror's watch moved too
    }

    internal static async Task<T> Eventually<T>(Func<T?> probe, int seconds = 10) where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (true)
        {
            if (probe() is { } value)
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(20);
        }
    }
}
