using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Tests.LoadBalancing;

public sealed class LoadBalancingTests
{
    private static readonly HttpMessageInvoker Invoker = new(new SocketsHttpHandler());

    private static ClusterState Cluster(string name, LoadBalancerKind kind, int endpoints, Func<int, int> random)
    {
        var states = Enumerable.Range(0, endpoints).Select(i => new EndpointState("10.0.0." + (i + 1), 8080)).ToArray();
        return new ClusterState(new ClusterConfig(name, [], kind), states, Invoker, random, TimeProvider.System);
    }

    [Theory]
    [InlineData(new[] { 90, 10 })]
    [InlineData(new[] { 1, 1, 2 })]
    [InlineData(new[] { 50, 0, 50 })]
    [InlineData(new[] { 7 })]
    public void PickCluster_Weights_DistributionWithinTolerance(int[] weights)
    {
        var random = new Random(1234);
        var clusters = weights.Select((_, i) => Cluster("c" + i, LoadBalancerKind.RoundRobin, 1, random.Next)).ToArray();
        var route = new CompiledRoute(
            new RouteConfig("r", [], weights.Select((w, i) => new WeightedClusterConfig("c" + i, w)).ToList()),
            [],
            clusters.Where((_, i) => weights[i] > 0).ToArray(),
            weights.Where(w => w > 0).ToArray());
        const int picks = 100_000;

        var counts = new Dictionary<string, int>();
        for (var i = 0; i < picks; i++)
        {
            var name = route.PickCluster(random.Next).Name;
            counts[name] = counts.GetValueOrDefault(name) + 1;
        }

        var total = weights.Sum();
        for (var i = 0; i < weights.Length; i++)
        {
            var expected = (double)weights[i] / total;
            var actual = counts.GetValueOrDefault("c" + i) / (double)picks;
            Assert.InRange(actual, expected - 0.01, expected + 0.01);
        }
    }

    [Fact]
    public void Pick_RoundRobin_VisitsEndpointsInOrderAndWraps()
    {
        var cluster = Cluster("c", LoadBalancerKind.RoundRobin, 3, _ => throw new InvalidOperationException("round robin is not random"));

        var picked = Enumerable.Range(0, 7).Select(_ => cluster.PickEndpoint()!.Address).ToArray();

        Assert.Equal(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1"], picked);
    }

    [Fact]
    public void Pick_RoundRobinConcurrent_SpreadsEvenly()
    {
        var cluster = Cluster("c", LoadBalancerKind.RoundRobin, 4, _ => 0);
        var counts = new int[4];

        Parallel.For(0, 40_000, _ =>
        {
            var endpoint = cluster.PickEndpoint()!;
            Interlocked.Increment(ref counts[int.Parse(endpoint.Address.Split('.')[3], System.Globalization.CultureInfo.InvariantCulture) - 1]);
        });

        Assert.All(counts, c => Assert.Equal(10_000, c));
    }

    [Fact]
    public void Pick_LeastRequest_PrefersTheLessBusyOfTwo()
    {
        var draws = new Queue<int>([0, 0]); // first = endpoint 0, second = endpoint 1 (0 shifted past the first)
        var cluster = Cluster("c", LoadBalancerKind.LeastRequest, 3, _ => draws.Dequeue());
        cluster.Endpoints[0].RequestStarted();
        cluster.Endpoints[0].RequestStarted();
        cluster.Endpoints[1].RequestStarted();

        Assert.Same(cluster.Endpoints[1], cluster.PickEndpoint());
    }

    [Fact]
    public void Pick_Random_UsesInjectedSource()
    {
        var cluster = Cluster("c", LoadBalancerKind.Random, 3, max => max - 1);

        Assert.Same(cluster.Endpoints[2], cluster.PickEndpoint());
    }

    [Fact]
    public void Pick_NoEndpoints_ReturnsNull() =>
        Assert.Null(Cluster("c", LoadBalancerKind.RoundRobin, 0, _ => 0).PickEndpoint());
}
