namespace Trellis.Proxy.LoadBalancing;

/// <summary>A uniformly random endpoint from the injected random source.</summary>
internal sealed class RandomPolicy : ILoadBalancingPolicy
{
    public EndpointState Pick(ClusterState cluster) => cluster.Endpoints[cluster.Random(cluster.Endpoints.Length)];
}
