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
}
