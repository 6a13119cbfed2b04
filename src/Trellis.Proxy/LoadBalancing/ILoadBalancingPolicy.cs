namespace Trellis.Proxy.LoadBalancing;

/// <summary>Chooses an endpoint of a cluster. Called on every request: must not allocate or lock.</summary>
internal interface ILoadBalancingPolicy
{
    /// <summary>Picks one of <see cref="ClusterState.Endpoints"/>, which holds at least two endpoints.</summary>
    EndpointState Pick(ClusterState cluster);
}
