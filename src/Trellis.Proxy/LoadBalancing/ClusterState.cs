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

    /// <summary>How connections to the endpoints are opened (the upstream transport seam): plain TCP today.</summary>
    public Upstream.IUpstreamConnector Connector { get; init; } = Upstream.TcpConnector.Instance;

    public Func<int, int> Random { get; }

    /// <summary>Set when requests wait for an endpoint instead of failing while the cluster has none.</summary>
    public ActivationConfig? Activation { get; }

    /// <summary>Requests per endpoint while the activator is in the path; 0 when not (see <see cref="ActivationConfig.EndpointCapacity"/>).</summary>
    public int EndpointCapacity => Activation?.EndpointCapacity ?? 0;

    /// <summary>
    /// With <see cref="EndpointCapacity"/>: the least loaded endpoint with a free slot, whose slot is
    /// taken (the caller returns it with <see cref="EndpointState.ReturnSlot"/>); null when every one is
    /// full. The scan starts at a random endpoint so that ties do not always favour the first.
    /// </summary>
    public EndpointState? TakeSlot()
    {
        var capacity = EndpointCapacity;
        var count = Endpoints.Length;
        while (count > 0)
        {
            EndpointState? best = null;
            var start = count == 1 ? 0 : Random(count);
            for (var i = 0; i < count; i++)
            {
                var candidate = Endpoints[(start + i) % count];
                var taken = candidate.ActivatorSlots;
                if (taken < capacity && (best is null || taken < best.ActivatorSlots))
                {
                    best = candidate;
                }
            }

            if (best is null)
            {
                return null;
            }

            if (best.TryTakeSlot(capacity))
            {
                return best;
            }

            // Another request took the last slot between the scan and the take: look again.
        }

        return null;
    }

    /// <summary>
    /// The endpoint for the next request: with <see cref="EndpointCapacity"/> one whose slot is now
    /// taken (see <see cref="TakeSlot"/>), otherwise the policy's pick; null when there is none.
    /// </summary>
    public EndpointState? NextEndpoint() => EndpointCapacity > 0 ? TakeSlot() : PickEndpoint();

    /// <summary>Whether <see cref="TakeSlot"/> (or <see cref="PickEndpoint"/> without a capacity) could find an endpoint now.</summary>
    public bool HasRoom()
    {
        var capacity = EndpointCapacity;
        if (capacity == 0)
        {
            return Endpoints.Length > 0;
        }

        foreach (var endpoint in Endpoints)
        {
            if (endpoint.ActivatorSlots < capacity)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The endpoint for the next request, or null when the cluster has none.</summary>
    public EndpointState? PickEndpoint() => Endpoints.Length switch
    {
        0 => null,
        1 => Endpoints[0],
        _ => Policy.Pick(this),
    };
}
