using Trellis.Api.Snapshots;

namespace Trellis.Proxy.LoadBalancing;

/// <summary>A cluster of one compiled snapshot: its endpoints, balancer and the client that reaches them.</summary>
internal sealed class ClusterState
{
    // Interlocked by the round-robin policy; a field so that it can be passed by ref.
    internal int RoundRobinCounter = -1;

    public ClusterState(
        string name,
        EndpointState[] endpoints,
        ILoadBalancingPolicy policy,
        UpstreamProtocol protocol,
        HttpMessageInvoker invoker,
        Func<int, int> random,
        ActivationConfig? activation = null)
    {
        Name = name;
        Endpoints = endpoints;
        Policy = policy;
        Protocol = protocol;
        Invoker = invoker;
        Random = random;
        Activation = activation;
    }

    public string Name { get; }

    public EndpointState[] Endpoints { get; }

    public ILoadBalancingPolicy Policy { get; }

    public UpstreamProtocol Protocol { get; }

    public HttpMessageInvoker Invoker { get; }

    public Func<int, int> Random { get; }

    /// <summary>Set when requests wait for an endpoint instead of failing while the cluster has none.</summary>
    public ActivationConfig? Activation { get; }

    /// <summary>The endpoint for the next request, or null when the cluster has none.</summary>
    public EndpointState? PickEndpoint() => Endpoints.Length switch
    {
        0 => null,
        1 => Endpoints[0],
        _ => Policy.Pick(this),
    };
}
