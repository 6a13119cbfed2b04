using Trellis.Api;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Tests.Store;

public sealed class FileResourceStoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-store-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Write_ThenReopen_KeepsEveryAcknowledgedBatch()
    {
        await using (var store = FileResourceStore.Open(_dir))
        {
            Assert.True((await store.WriteAsync([Put(TestResources.ReviewsService)])).Succeeded);
            Assert.True((await store.WriteAsync([Put(TestResources.ReviewsRule)])).Succeeded);
        }

        await using var reopened = FileResourceStore.Open(_dir);
        Assert.Equal(2, reopened.Snapshot.Revision);
        Assert.Equal(2, reopened.Snapshot.Objects.Count);
        var rule = reopened.Snapshot.Get(new ResourceKey("networking.istio.io", "DestinationRule", "default", "reviews"));
        Assert.NotNull(rule);
        Assert.Equal("2", rule.Resource.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Open_TornLastRecord_IsCutOffAndEarlierStateKept()
    {
        await using (var store = FileResourceStore.Open(_dir))
        {
            await store.WriteAsync([Put(TestResources.ReviewsService)]);
        }

        // A crash in the middle of a write leaves half a line with no newline.
        await File.AppendAllTextAsync(Path.Combine(_dir, "store.log"), "0011223344556677 {\"rev\":2,\"ops\":[{\"put\":{\"apiVer");
        await using (var store = FileResourceStore.Open(_dir))
        {
            Assert.Equal(1, store.Snapshot.Revision);
            Assert.True((await store.WriteAsync([Put(TestResources.ReviewsRule)])).Succeeded);
        }

        await using var again = FileResourceStore.Open(_dir);
        Assert.Equal(2, again.Snapshot.Revision);
        Assert.Equal(2, again.Snapshot.Objects.Count);
    }

    [Fact]
    public async Task Open_CorruptRecord_StopsReplayThere()
    {
        await using (var store = FileResourceStore.Open(_dir))
        {
            await store.WriteAsync([Put(TestResources.ReviewsService)]);
            await store.WriteAsync([Put(TestResources.ReviewsRule)]);
        }

        var path = Path.Combine(_dir, "store.log");
        var lines = await File.ReadAllLinesAsync(path);
        lines[1] = lines[1].Replace("reviews", "reviewz", StringComparison.Ordinal); // checksum no longer matches
        await File.WriteAllLinesAsync(path, lines);

        await using var reopened = FileResourceStore.Open(_dir);
        Assert.Equal(1, reopened.Snapshot.Revision);
        Assert.Single(reopened.Snapshot.Objects);
    }

    [Fact]
    public async Task Write_BatchWithOneFailingOperation_ChangesNothing()
    {
        await using var store = FileResourceStore.Open(_dir);
        await store.WriteAsync([Put(TestResources.ReviewsService)]);
        var before = store.Snapshot;

        var result = await store.WriteAsync([
            Put(TestResources.ReviewsRule),
            new PutOperation(TestResources.One(TestResources.ReviewsService), PutMode.CreateOnly),
        ]);

        Assert.Equal(StoreErrorKind.AlreadyExists, result.Error);
        Assert.Same(before, store.Snapshot);
        Assert.Single(store.Snapshot.Objects);
    }

    [Fact]
    public async Task Write_SameContentTwice_IsUnchangedAndKeepsRevision()
    {
        await using var store = FileResourceStore.Open(_dir);
        await store.WriteAsync([Put(TestResources.ReviewsRule)]);
        var second = await store.WriteAsync([Put(TestResources.ReviewsRule)]);

        Assert.Equal(ChangeKind.Unchanged, second.Outcomes.Single().Change);
        Assert.Equal(1, store.Snapshot.Revision);
    }

    [Fact]
    public async Task Write_ChangedSpec_BumpsGenerationAndKeepsUid()
    {
        await using var store = FileResourceStore.Open(_dir);
        var first = (await store.WriteAsync([Put(TestResources.VirtualService("reviews", "reviews", "v1"))])).Outcomes.Single().Result!;
        var second = (await store.WriteAsync([Put(TestResources.VirtualService("reviews", "reviews", "v3"))])).Outcomes.Single();

        Assert.Equal(ChangeKind.Configured, second.Change);
        Assert.Equal(2, second.Result!.Resource.Metadata.Generation);
        Assert.Equal(first.Resource.Metadata.Uid, second.Result.Resource.Metadata.Uid);
    }

    [Fact]
    public async Task Write_StaleResourceVersion_IsConflict()
    {
        await using var store = FileResourceStore.Open(_dir);
        await store.WriteAsync([Put(TestResources.ReviewsRule)]);
        await store.WriteAsync([Put(TestResources.ReviewsRule.Replace("v3", "v4", StringComparison.Ordinal))]);

        var stale = new PutOperation(TestResources.One(TestResources.ReviewsRule)) { ExpectedResourceVersion = 1 };
        Assert.Equal(StoreErrorKind.Conflict, (await store.WriteAsync([stale])).Error);
    }

    [Fact]
    public async Task Watch_FromRevision_ReplaysThenFollows()
    {
        await using var store = FileResourceStore.Open(_dir);
        await store.WriteAsync([Put(TestResources.ReviewsService)]);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var seen = new List<WatchEvent>();
        var watching = Task.Run(async () =>
        {
            await foreach (var e in store.WatchAsync(0, cts.Token))
            {
                seen.Add(e);
                if (seen.Count == 3)
                {
                    return;
                }
            }
        });

        await store.WriteAsync([Put(TestResources.ReviewsRule)]);
        await store.WriteAsync([new DeleteOperation(new ResourceKey("", "Service", "default", "reviews"))]);
        await watching;

        Assert.Equal([WatchEventType.Added, WatchEventType.Added, WatchEventType.Deleted], seen.Select(e => e.Type));
        Assert.Equal([1L, 2L, 3L], seen.Select(e => e.Revision));
    }

    [Fact]
    public async Task Watch_OlderThanHistory_Expires()
    {
        await using (var store = FileResourceStore.Open(_dir))
        {
            await store.WriteAsync([Put(TestResources.ReviewsService)]);
        }

        await using var reopened = FileResourceStore.Open(_dir);
        await Assert.ThrowsAsync<WatchExpiredException>(async () =>
        {
            await foreach (var _ in reopened.WatchAsync(0, CancellationToken.None))
            {
            }
        });
    }

    private static PutOperation Put(string yaml) => new(TestResources.One(yaml));
}
