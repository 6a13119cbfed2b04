using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Api.Registry;
using Trellis.ControlPlane.Push;
using Trellis.ControlPlane.Registry;
using Trellis.ControlPlane.Store;
using Trellis.Runtime.Tests;

namespace Trellis.ControlPlane.Tests.Push;

/// <summary>Publishing mesh states on a fake clock: the first change at once, the burst after it together, a newly ready instance at once.</summary>
public sealed class MeshStateSourceTests : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private readonly string _dir = Directory.CreateTempSubdirectory("trellis-meshstate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Changes_FirstAfterQuietPublishedAtOnceFollowersTogetherAtIntervalEnd()
    {
        var time = new ManualTimeProvider();
        await using var store = FileResourceStore.Open(_dir, time);
        var registry = new ServiceRegistry(time);
        await using var source = new MeshStateSource(store, registry, NullLogger<MeshStateSource>.Instance, Interval, time);
        var start = source.Current.Generation;

        registry.Report(Node(false, "a"));
        await source.WaitForNewerAsync(start, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)); // the clock never moved
        var first = source.Current;
        Assert.Equal(["a"], first.Instances.Select(i => i.Id));

        registry.Report(Node(false, "a", "b"));
        registry.Report(Node(false, "a", "b", "c"));
        await Eventually(() => time.PendingDelays().Count > 0);
        Assert.Equal(first.Generation, source.Current.Generation);

        time.Advance(Interval);
        await source.WaitForNewerAsync(first.Generation, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(first.Generation + 1, source.Current.Generation);
        Assert.Equal(["a", "b", "c"], source.Current.Instances.Select(i => i.Id));
    }

    [Fact]
    public async Task Changes_InstanceTurnsReadyInsideAnInterval_PublishedAtOnceCuttingTheWait()
    {
        var time = new ManualTimeProvider();
        await using var store = FileResourceStore.Open(_dir, time);
        var registry = new ServiceRegistry(time);
        await using var source = new MeshStateSource(store, registry, NullLogger<MeshStateSource>.Instance, Interval, time);
        var start = source.Current.Generation;
        registry.Report(Node(false, "a"));
        await source.WaitForNewerAsync(start, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        var starting = source.Current;

        // A change inside the interval waits for its end (the clock never gets there) ...
        registry.Report(Node(false, "a", "b"));
        await Eventually(() => time.PendingDelays().Count > 0);
        Assert.Equal(starting.Generation, source.Current.Generation);

        // ... until an instance turns ready: published at once, with the change that waited.
        registry.Report(Node(true, "a", "b"));
        await source.WaitForNewerAsync(starting.Generation, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(starting.Generation + 1, source.Current.Generation);
        Assert.All(source.Current.Instances, i => Assert.True(i.Ready));
        await Eventually(() => time.PendingDelays().Count == 0); // the cut wait left no timer behind
    }

    [Fact]
    public async Task Changes_ReadyInstanceReportedAgain_StillDebounced()
    {
        var time = new ManualTimeProvider();
        await using var store = FileResourceStore.Open(_dir, time);
        var registry = new ServiceRegistry(time);
        await using var source = new MeshStateSource(store, registry, NullLogger<MeshStateSource>.Instance, Interval, time);
        var start = source.Current.Generation;
        registry.Report(Node(true, "a"));
        await source.WaitForNewerAsync(start, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        var first = source.Current;

        // "a" was ready already; "b" arrives not ready: an ordinary change, which waits out the interval.
        registry.Report(Node(true, "a") with { Instances = [.. Node(true, "a").Instances, .. Node(false, "b").Instances] });
        await Eventually(() => time.PendingDelays().Count > 0);

        Assert.Equal(first.Generation, source.Current.Generation);
    }

    private static NodeStatus Node(bool ready, params string[] ids) => new("n1", null, ids.Select(id =>
        new WorkloadInstance(id, "n1", "w", "default", new Dictionary<string, string>(), "127.0.0.1", new Dictionary<string, int> { ["app"] = 1 }, ready ? "Ready" : "Running", ready, 0, null, null, null)).ToList());

    private static async Task Eventually(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }
}
