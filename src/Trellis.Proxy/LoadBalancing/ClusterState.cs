using Trellis.Api.Snapshots;
using Trellis.Proxy.Resilience;

namespace Trellis.Proxy.LoadBalancing;

/// <summary>
/// A cluster of one compiled snapshot: its endpoints, how one is picked (<see cref="EndpointPicker"/>: balancing,
/// consistent hashing, outlier ejections, warm-up), its circuit breakers, and the client that reaches them. Live state
/// that must outlive a config push (endpoint counters, ejections, breaker counts, hash rings, rate of warm-up) is
/// carried over from the cluster of the same name in the previous snapshot.
/// </summary>
internal sealed class ClusterState
{
    public ClusterState(
        ClusterConfig config, EndpointState[] endpoints, HttpMessageInvoker invoker, Func<int, int> random, TimeProvider time, ClusterState? previous = null)
    {
        Config = config;
        Name = config.Name;
        Endpoints = endpoints;
        Protocol = config.Protocol;
        Invoker = invoker;
        Random = random;
        Activation = config.Activation;
        Outlier = config.OutlierDetection is { } outlier ? OutlierDetector.Create(outlier, endpoints, previous?.Outlier, time) : null;
        if (Outlier is null)
        {
            previous?.Outlier?.Dispose(); // outlier detection turned off: the old detector's timer stops
        }

        Picker = new EndpointPicker(config, endpoints, Outlier, random, time, previous?.Picker);
        Connector = Upstream.TcpConnector.For(config.ConnectionPool?.TcpKeepalive);
        _passthrough = config.LoadBalancer == LoadBalancerKind.Passthrough ? previous?._passthrough ?? new() : null;
        Breaker = ClusterCircuitBreaker.Create(config.ConnectionPool, previous?.Breaker);
        ConnectionSlots = config.ConnectionPool?.MaxConnections is { } max
            ? previous?.ConnectionSlots is { } slots && previous.Config.ConnectionPool?.MaxConnections == max ? slots : new ConnectionSlots(max)
            : null;
    }

    public ClusterConfig Config { get; }

    public string Name { get; }

    public EndpointState[] Endpoints { get; }

    /// <summary>Chooses the endpoint of each attempt.</summary>
    public EndpointPicker Picker { get; }

    /// <summary>The cluster's outlier detection; null when it has none.</summary>
    public OutlierDetector? Outlier { get; }

    /// <summary>Requests, pending requests and retries in flight against <see cref="ClusterConfig.ConnectionPool"/>'s thresholds.</summary>
    public ClusterCircuitBreaker Breaker { get; }

    /// <summary><c>tcp.maxConnections</c> as connections in use, with <c>http1MaxPendingRequests</c> waiting for one; null for no limit.</summary>
    public ConnectionSlots? ConnectionSlots { get; }

    public UpstreamProtocol Protocol { get; }

    public HttpMessageInvoker Invoker { get; }

    /// <summary>How connections to the endpoints are opened (the upstream transport seam): plain TCP today.</summary>
    public Upstream.IUpstreamConnector Connector { get; init; }

    /// <summary>The cluster's TLS decision (auto mTLS, ISTIO_MUTUAL, DISABLE, SIMPLE, MUTUAL); null: every connection is <see cref="Connector"/>'s.</summary>
    public Upstream.ClusterTls? Tls { get; init; }

    /// <summary>
    /// The connector of an attempt from the workload <paramref name="source"/> (its SPIFFE ID; null for none) to
    /// <paramref name="endpoint"/>, for a request whose upstream Host is <paramref name="authority"/> (TLS origination's auto SNI).
    /// </summary>
    public Upstream.IUpstreamConnector ConnectorFor(EndpointState endpoint, string? source, string? authority) =>
        Tls is { } tls ? tls.For(endpoint, source, Connector, authority) : Connector;

    /// <summary>The HTTP client of an attempt (the Kestrel path's HTTP/2 upstreams): <see cref="Invoker"/>, or the TLS connector's own.</summary>
    public HttpMessageInvoker InvokerFor(EndpointState endpoint, string? source, string? authority) =>
        ConnectorFor(endpoint, source, authority) is Upstream.TlsConnector tls ? tls.Invoker : Invoker;

    public Func<int, int> Random { get; }

    // PASSTHROUGH endpoints by the authority asked for, kept across snapshots; bounded so that arbitrary hosts cannot grow it.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, EndpointState>? _passthrough;
    private const int MaxPassthroughEndpoints = 1024;

    /// <summary>
    /// Istio's PASSTHROUGH: no balancing; the request goes to the address the client asked for, its authority (port 80
    /// when it names none). The endpoint's live state is kept per authority.
    /// </summary>
    public EndpointState PassthroughEndpoint(in Routing.RouteRequest request)
    {
        var authority = request.Authority;
        if (_passthrough!.TryGetValue(authority, out var known))
        {
            return known;
        }

        var colon = Routing.RouteRequest.AuthorityPortSeparator(authority);
        var port = colon >= 0 && int.TryParse(authority.AsSpan(colon + 1), out var explicitPort) ? explicitPort : 80;
        return Remember(authority, new EndpointState(request.Host.Trim("[]").ToString(), port));
    }

    /// <summary>PASSTHROUGH for a relayed TCP connection: the address the client meant (<see cref="TcpProxyConfig.Original"/>).</summary>
    public EndpointState PassthroughEndpoint(string host, int port)
    {
        var key = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{host}:{port}");
        return _passthrough!.TryGetValue(key, out var known) ? known : Remember(key, new EndpointState(host, port));
    }

    private EndpointState Remember(string key, EndpointState endpoint) =>
        _passthrough!.Count < MaxPassthroughEndpoints ? _passthrough.GetOrAdd(key, endpoint) : endpoint;

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
    public EndpointState? NextEndpoint(ulong? hash = null, int attempt = 0) => EndpointCapacity > 0 ? TakeSlot() : PickEndpoint(hash, attempt);

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

    /// <summary>The endpoint for the next attempt (<see cref="EndpointPicker.Pick"/>), or null when none serves.</summary>
    public EndpointState? PickEndpoint(ulong? hash = null, int attempt = 0) => Picker.Pick(hash, attempt);
}
