namespace Trellis.Api.Snapshots;

/// <summary>
/// A listener that relays opaque TCP connections instead of serving HTTP (Envoy's <c>tcp_proxy</c> filter): each
/// connection takes the first of <see cref="Routes"/> that matches it, one of that route's clusters by weight, and one of
/// the cluster's endpoints by its load balancer, and its bytes are relayed both ways until both sides have closed.
/// A connection no route matches is closed. See docs/tcp.md.
/// </summary>
/// <param name="Routes">In order; the first whose matches hold wins.</param>
/// <param name="SniPeek">Read the TLS ClientHello's server name before routing (routes with <c>SniHosts</c>); the bytes read
/// are relayed unchanged. The client's first bytes are awaited for at most <see cref="SniPeekTimeout"/>.</param>
/// <param name="Original">Where the client meant to connect, for a listener that stands for a ServiceEntry port: a
/// passthrough cluster (resolution <c>NONE</c>, Envoy's <c>ORIGINAL_DST</c>) sends the connection there. Null: a
/// passthrough cluster has no destination and the connection is closed.</param>
/// <param name="DestinationPort">On a workload's inbound relay, the port its connections are for as AuthorizationPolicy's
/// <c>ports</c> and <c>destination.port</c> see it: the Service port, when the Services selecting the instance give it one
/// TCP port; on a gateway relay, the gateway's port; null: not one port (those fields then match no value).</param>
public sealed record TcpProxyConfig(IReadOnlyList<TcpRouteConfig> Routes, bool SniPeek = false, OriginalDestinationConfig? Original = null, int? DestinationPort = null)
{
    /// <summary>How long a listener that reads the server name waits for the ClientHello (Envoy's tls_inspector: 15 s).</summary>
    public static readonly TimeSpan SniPeekTimeout = TimeSpan.FromSeconds(15);
}

/// <summary>One TCP (or TLS passthrough) route: Istio's <c>TCPRoute</c>/<c>TLSRoute</c>, Gateway API's <c>TCPRoute</c>/<c>TLSRoute</c> rule.</summary>
/// <param name="Matches">Any of them (none: every connection).</param>
/// <param name="Clusters">Picked by weight per connection; none with a positive weight: the connection is closed.</param>
public sealed record TcpRouteConfig(string Name, IReadOnlyList<TcpMatchConfig> Matches, IReadOnlyList<WeightedClusterConfig> Clusters);

/// <summary>All present conditions hold (Istio's <c>L4MatchAttributes</c> and <c>TLSMatchAttributes</c>, the parts a proxy sees).</summary>
/// <param name="DestinationSubnets">The address the client connected to is in one of these (CIDR or single IP).</param>
/// <param name="SourceSubnet">The client's address is in this CIDR (or is this IP).</param>
/// <param name="SniHosts">The ClientHello's server name is one of these: an exact name, <c>*.suffix</c> for any deeper name, or <c>*</c>.</param>
public sealed record TcpMatchConfig(IReadOnlyList<string>? DestinationSubnets = null, string? SourceSubnet = null, IReadOnlyList<string>? SniHosts = null);

/// <summary>
/// The destination a client meant when it reached a ServiceEntry port through the local port reserved for it (there is
/// no captured original destination without traffic capture): the ClientHello's server name when it sent one (TLS ports),
/// else <see cref="Host"/>, at <see cref="Port"/>, the entry's port number.
/// </summary>
/// <param name="Host">The entry's host when it names one server (not a wildcard); null: only a server name can say.</param>
public sealed record OriginalDestinationConfig(string? Host, int Port);

/// <summary>
/// The TCP destinations an outbound listener reaches when a client names one: an HTTP <c>CONNECT host:port</c> (a workload
/// whose <c>HTTPS_PROXY</c> is the listener) or, on a capture listener, a captured connection's original address. Each
/// destination is relayed by its own routes, as the reserved-port listener of the same service port would relay it.
/// See docs/egress.md.
/// </summary>
/// <param name="Destinations">In order; a name or address two of them claim goes to the first.</param>
/// <param name="Otherwise">The cluster of a destination none of them names: Istio's <c>PassthroughCluster</c> (to the
/// destination itself) under <c>ALLOW_ANY</c>, its <c>BlackHoleCluster</c> (no endpoints: refused) under <c>REGISTRY_ONLY</c>.</param>
public sealed record TcpDestinationsConfig(IReadOnlyList<TcpDestinationConfig> Destinations, string Otherwise);

/// <summary>One service port reachable as a TCP destination.</summary>
/// <param name="Hosts">The names a client may give (exact, or <c>*.suffix</c> for any name below it).</param>
/// <param name="Port">The service port: a CONNECT target's port, a captured connection's original port.</param>
/// <param name="Tcp">How its connections are relayed; a passthrough cluster goes to the name (or address) the client gave.</param>
/// <param name="Addresses">ServiceEntry <c>addresses</c>: IPs and CIDR blocks whose connections on <paramref name="Port"/> are this destination's.</param>
public sealed record TcpDestinationConfig(IReadOnlyList<string> Hosts, int Port, TcpProxyConfig Tcp, IReadOnlyList<string>? Addresses = null);
