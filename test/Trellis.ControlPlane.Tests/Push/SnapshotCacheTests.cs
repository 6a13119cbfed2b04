using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Push;
using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.Push;

public sealed class SnapshotCacheTests
{
    private static readonly Dictionary<string, string> Ingress = new() { ["istio"] = "ingressgateway" };

    [Fact]
    public void GetWire_ProxiesOfOneView_ShareOneCompileAndOneSerialization()
    {
        var cache = new SnapshotCache();
        var state = State([TestResources.One(TestResources.ReviewsService), TestResources.One(TestResources.ReviewsRule)], Instances());

        var first = cache.GetWire(new ProxyHello("gateway/a", ProxyRole.Gateway, null, Ingress), state);
        var second = cache.GetWire(new ProxyHello("gateway/b", ProxyRole.Gateway, null, new Dictionary<string, string>(Ingress)), state);
        var other = cache.GetWire(new ProxyHello("gateway/c", ProxyRole.Gateway, null, new Dictionary<string, string>(Ingress) { ["zone"] = "b" }), state);

        Assert.Same(first, second);
        Assert.NotSame(first, other);
        Assert.Equal((byte)'\n', first.Line[^1]);
        var decoded = System.Text.Json.JsonSerializer.Deserialize(first.Line.AsSpan(0, first.Line.Length - 1), WireJsonContext.Default.ProxySnapshot)!;
        Assert.Equal(first.Snapshot.Version, decoded.Version);
    }

    [Fact]
    public async Task GetWire_ManyStreamsWakeAtOnce_CompileOnce()
    {
        var cache = new SnapshotCache();
        var state = State([TestResources.One(TestResources.ReviewsService), TestResources.One(TestResources.ReviewsRule)], Instances());
        using var start = new ManualResetEventSlim();

        // A new state wakes every stream of a view together: they must share one compile, not each race to make one.
        var streams = Enumerable.Range(0, 8).Select(i => Task.Run(() =>
        {
            var hello = new ProxyHello($"gateway/{i}", ProxyRole.Gateway, null, new Dictionary<string, string>(Ingress));
            start.Wait();
            return cache.GetWire(SnapshotCache.ViewKey(hello), hello, state);
        })).ToList();
        start.Set();
        var wires = await Task.WhenAll(streams);

        Assert.Equal(1, cache.Compiles);
        Assert.All(wires, w => Assert.Same(wires[0], w));
    }

    [Fact]
    public void GetWire_StreamOnAnOlderState_GetsItsOwnSnapshotAndLeavesTheNewerCached()
    {
        var cache = new SnapshotCache();
        var older = State([TestResources.One(TestResources.ReviewsService)], Instances()) with { Generation = 1 };
        var newer = State([TestResources.One(TestResources.ReviewsService), TestResources.One(TestResources.ReviewsRule)], Instances()) with { Generation = 2 };
        var hello = new ProxyHello("gateway/a", ProxyRole.Gateway, null, Ingress);

        var current = cache.GetWire(hello, newer);
        var late = cache.GetWire(hello, older);

        Assert.NotSame(current, late);
        Assert.Same(current, cache.GetWire(hello, newer));
        Assert.Equal(2, cache.Compiles);
    }
}
