namespace Trellis.Proxy.LoadBalancing;

/// <summary>
/// Envoy's default least-request algorithm: the power of two choices. Two distinct random
/// endpoints, the one with fewer requests in flight wins; avoids the herding a full scan causes.
/// </summary>
internal sealed class LeastRequestPolicy : ILoadBalancingPolicy
{
    public EndpointState Pick(ClusterState cluster)
    {
        var endpoints = cluster.Endpoints;
        var first = cluster.Random(endpoints.Length);
        var second = cluster.Random(endpoints.Length - 1);
        if (second >= first)
        {
            second++;
        }

        var a = endpoints[first];
        var b = endpoints[second];
        return b.ActiveRequests < a.ActiveRequests ? b : a;
    }
}
