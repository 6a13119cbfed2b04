using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Api.Registry;
using Trellis.ControlPlane.Push;
using Trellis.ControlPlane.Registry;
using Trellis.ControlPlane.Store;
using Trellis.Runtime.Tests;

namespace Trellis.ControlPlane.Tests.Push;

/// <summary>Publishing mesh states on a fake clock: the first change at once, the burst after it together.</summary>
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

        registry.Report(Node("a"));
        await source.WaitForNewerAsync(start, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)); // the clock never moved
        var first = source.Current;
        Assert.Equal(["a"], first.Instances.Select(i => i.Id));

        registry.Report(Node("a", "b"));
        registry.Report(Node("a", "b", "c"));
        await Eventually(() => time.PendingDelays().Count > 0);
        Assert.Equal(first.Generation, source.Current.Generation);

        time.Advance(Interval);
        await source.WaitForNewerAsync(first.Generation, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(first.Generation + 1, source.Current.Generation);
        Assert.Equal(["a", "b", "c"], source.Current.Instances.Select(i => i.Id));
    }

    private static NodeStatus Node(params string[] ids) => new("n1", null, ids.Select(id =>
        new WorkloadInstance(id, "n1", "w", "default", new Dictionary<string, string>(), "127.0.0.1", new Dictionary<string, int> { ["app"] = 1 }, "Ready", true, 0, null, null, null)).ToList());

    private static async Task Eventually(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }
}
