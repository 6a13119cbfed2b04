namespace Trellis.Proxy.LoadBalancing;

/// <summary>Endpoints in turn; one Interlocked increment per pick, no lock.</summary>
internal sealed class RoundRobinPolicy : ILoadBalancingPolicy
{
    public EndpointState Pick(ClusterState cluster)
    {
        var endpoints = cluster.Endpoints;
        // Unsigned so that the counter wrapping past int.MaxValue keeps a valid, continuing order.
        var turn = (uint)Interlocked.Increment(ref cluster.RoundRobinCounter);
        return endpoints[(int)(turn % (uint)endpoints.Length)];
    }
}
