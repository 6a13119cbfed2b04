using BenchmarkDotNet.Attributes;
using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Routing;

namespace Trellis.Benchmarks;

/// <summary>Endpoint pick per policy (three endpoints) and the weighted cluster pick of a 90/10 split.</summary>
[MemoryDiagnoser]
public class LoadBalancerBenchmarks
{
    private readonly ClusterState _roundRobin = Fixtures.Cluster("rr", LoadBalancerKind.RoundRobin);
    private readonly ClusterState _leastRequest = Fixtures.Cluster("lr", LoadBalancerKind.LeastRequest);
    private readonly ClusterState _random = Fixtures.Cluster("random", LoadBalancerKind.Random);
    private readonly CompiledRoute _split = Fixtures.RouteTable().Match(Fixtures.Request("reviews", "/")).Route!;
    private readonly Func<int, int> _next = Random.Shared.Next;

    [Benchmark(Baseline = true)]
    public object? RoundRobin() => _roundRobin.PickEndpoint();

    [Benchmark]
    public object? LeastRequest() => _leastRequest.PickEndpoint();

    [Benchmark]
    public object? RandomPick() => _random.PickEndpoint();

    [Benchmark]
    public object WeightedCluster() => _split.PickCluster(_next);
}
