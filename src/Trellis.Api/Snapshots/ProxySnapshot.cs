namespace Trellis.Api.Snapshots;

// The compiled configuration the control plane pushes to one proxy (see docs/protocol.md).
// Plain immutable records, serialized as camelCase JSON on the wire. A proxy validates a snapshot
// before it swaps it in; an invalid one is NACKed and the proxy keeps its last good snapshot.

/// <summary>Everything one proxy needs. <see cref="Version"/> is what the proxy ACKs or NACKs.</summary>
public sealed record ProxySnapshot(
    string Version,
    IReadOnlyList<ListenerConfig> Listeners,
    IReadOnlyList<RouteTableConfig> RouteTables,
    IReadOnlyList<ClusterConfig> Clusters)
{
    public static readonly ProxySnapshot Empty = new("0", [], [], []);
}

public enum ListenerKind
{
    /// <summary>Traffic leaving a workload: usable as its <c>HTTP_PROXY</c>; routes by Host to services.</summary>
    Outbound,
    /// <summary>Traffic arriving at a workload instance; forwards to the instance's local port.</summary>
    Inbound,
    /// <summary>Ingress gateway: traffic entering the mesh from outside.</summary>
    Gateway,
}

/// <param name="Name">Unique within the snapshot, e.g. <c>reviews-v1-abc12/outbound</c>.</param>
/// <param name="Address">IP to bind, normally 127.0.0.1.</param>
/// <param name="RouteTable">Name of the <see cref="RouteTableConfig"/> this listener serves.</param>
/// <param name="Workload">Name of the workload instance the listener belongs to (empty for gateways); shown in telemetry.</param>
/// <param name="Protocols">With <paramref name="Tls"/>, ALPN picks among these. Without TLS, <c>Http1AndHttp2</c> serves
/// HTTP/1.1 and h2c prior knowledge on one port (the proxy's fast path recognises the preface; with it off, Kestrel
/// serves HTTP/1.1 only), and <c>Http2</c> serves h2c only.</param>
/// <param name="Tls">Terminate TLS with this certificate (a gateway server with <c>tls.mode: SIMPLE</c>); null for cleartext.</param>
/// <param name="Serving">Queue-proxy limits of a revision instance (on its inbound listener); null for none.</param>
/// <param name="RateLimit">A local token bucket for every request the listener takes (per workload instance on an
/// inbound listener, per gateway port on a gateway); see <see cref="RateLimitConfig"/>.</param>
/// <param name="Peer">The workload this listener speaks for in telemetry (Istio's node metadata): the instance's
/// Deployment for inbound and outbound listeners, the gateway for gateway listeners; null: "unknown".</param>
/// <param name="Services">On an inbound listener, the services that select the instance (the request's Host picks
/// among them for <c>destination_service</c>).</param>
/// <param name="Telemetry">The Telemetry API's settings for the workload (access log, tracing, metrics); null: metrics only.</param>
/// <param name="Authorization">The AuthorizationPolicies of an inbound listener's workload; null when none selects it.</param>
/// <param name="Authentication">The RequestAuthentication JWT rules of an inbound listener's workload; null when none selects it.</param>
/// <param name="Identity">The SPIFFE ID of the listener's workload: the certificate an inbound listener presents and an
/// outbound listener's mTLS client certificate; null for a listener without a workload identity (cleartext only).</param>
/// <param name="Mtls">What an inbound listener accepts from peers (its PeerAuthentication, resolved).</param>
/// <param name="Tcp">When set, the listener relays TCP connections by these routes instead of serving HTTP; its
/// <paramref name="RouteTable"/> is then not used (empty).</param>
/// <param name="ServerNames">With <paramref name="Tls"/>: the route table of a connection whose server name (SNI) one of
/// these hostnames matches (exact, else the longest <c>*.suffix</c>, which matches any name below it), as Envoy picks a
/// filter chain per server name for the Gateway API's HTTPS listeners; <paramref name="RouteTable"/> serves the others.</param>
/// <param name="Capture">The node's capture listener (Istio's 15001, <c>trellis agent --capture</c>): connections come
/// redirected by the node's nftables rules; each is sniffed, HTTP served by <paramref name="RouteTable"/> by its Host, and
/// anything else relayed to its original destination (<c>SO_ORIGINAL_DST</c>). See docs/capture.md.</param>
/// <param name="Destinations">On an outbound listener, the TCP destinations a client may name: HTTP <c>CONNECT</c> targets
/// (<c>HTTPS_PROXY</c>) and, on a capture listener, ServiceEntry <c>addresses</c>; null: CONNECT is refused (405).</param>
public sealed record ListenerConfig(
    string Name,
    string Address,
    int Port,
    ListenerKind Kind,
    string RouteTable,
    string Workload = "",
    HttpProtocols Protocols = HttpProtocols.Http1AndHttp2,
    ListenerTlsConfig? Tls = null,
    InstanceServingConfig? Serving = null,
    RateLimitConfig? RateLimit = null,
    WorkloadMetadata? Peer = null,
    IReadOnlyList<ServiceMetadata>? Services = null,
    ListenerTelemetryConfig? Telemetry = null,
    AuthorizationConfig? Authorization = null,
    AuthenticationConfig? Authentication = null,

    string? Identity = null,
    PeerAuthenticationMode Mtls = PeerAuthenticationMode.Disable,
    TcpProxyConfig? Tcp = null,
    IReadOnlyList<ServerNameRouteConfig>? ServerNames = null,
    bool Capture = false,
    TcpDestinationsConfig? Destinations = null);

/// <summary>The routes of the connections whose server name <see cref="Hostname"/> matches (<c>a.example.com</c> or <c>*.example.com</c>).</summary>
public sealed record ServerNameRouteConfig(string Hostname, string RouteTable);

/// <summary>
/// A TLS server's settings carried in the snapshot itself (PEM), as Envoy's SDS does, so a proxy on another host needs
/// no files of its own.
/// </summary>
/// <param name="ClientCaPem">
/// Istio Gateway <c>tls.mode: MUTUAL</c>: a client certificate is required and must chain to these roots; null: none is asked for.
/// </param>
/// <param name="ClientSubjectAltNames">MUTUAL: the client certificate must also carry one of these names (a DNS or URI SAN); empty: any.</param>
/// <param name="ServerNames">
/// The port's other TLS servers, chosen by the client's server name (SNI, an exact name or <c>*.suffix</c>, first match);
/// a name none of them matches, or none sent, gets this record's own settings.
/// </param>
public sealed record ListenerTlsConfig(
    string CertificatePem,
    string PrivateKeyPem,
    string? ClientCaPem = null,
    IReadOnlyList<string>? ClientSubjectAltNames = null,
    IReadOnlyList<ServerNameTlsConfig>? ServerNames = null)
{
    // Value equality over the lists too: a listener is rebound only when its TLS settings really change.
    public bool Equals(ListenerTlsConfig? other) =>
        other is not null && CertificatePem == other.CertificatePem && PrivateKeyPem == other.PrivateKeyPem && ClientCaPem == other.ClientCaPem
        && (ClientSubjectAltNames ?? []).SequenceEqual(other.ClientSubjectAltNames ?? [])
        && (ServerNames ?? []).SequenceEqual(other.ServerNames ?? []);

    public override int GetHashCode() => HashCode.Combine(CertificatePem, PrivateKeyPem, ClientCaPem, ServerNames?.Count ?? 0);
}

/// <summary>A TLS server of a port chosen by SNI (<see cref="ListenerTlsConfig.ServerNames"/>): its host names and settings.</summary>
public sealed record ServerNameTlsConfig(IReadOnlyList<string> Hostnames, ListenerTlsConfig Tls)
{
    public bool Equals(ServerNameTlsConfig? other) => other is not null && Hostnames.SequenceEqual(other.Hostnames) && Tls.Equals(other.Tls);

    public override int GetHashCode() => HashCode.Combine(Hostnames.Count, Tls);
}

[Flags]
public enum HttpProtocols
{
    Http1 = 1,
    Http2 = 2,
    Http1AndHttp2 = Http1 | Http2,
}

/// <summary>Virtual hosts a listener serves; shared by all listeners whose routes are identical.</summary>
public sealed record RouteTableConfig(string Name, IReadOnlyList<VirtualHostConfig> VirtualHosts);

/// <summary>
/// Requests whose authority (Host without port, or host:port) matches one of <see cref="Domains"/> use <see cref="Routes"/>,
/// first match wins. A domain is an exact name (<c>reviews</c>, <c>reviews.default.svc.cluster.local</c>,
/// <c>reviews:9080</c>), a suffix wildcard (<c>*.example.com</c>) or <c>*</c>.
/// </summary>
public sealed record VirtualHostConfig(string Name, IReadOnlyList<string> Domains, IReadOnlyList<RouteConfig> Routes);

/// <summary>
/// One route: if any of <see cref="Matches"/> matches (all when empty), the request is answered by the proxy
/// (<see cref="Redirect"/>, <see cref="DirectResponse"/>, a CORS preflight, an injected abort) or forwarded to one
/// of <see cref="Clusters"/> chosen by weight, under the route's retry, timeout, fault and mirror policy (the
/// policy types are in <c>TrafficPolicyConfig.cs</c>).
/// </summary>
/// <param name="Timeout">The whole exchange, retries included (Istio's <c>timeout</c>); null for none.</param>
/// <param name="Retry">Null: no retries (the compiler writes Istio's default policy explicitly).</param>
/// <param name="Mirrors">Fire-and-forget copies of each request (Istio <c>mirror</c>/<c>mirrors</c>).</param>
/// <param name="RateLimit">A local token bucket of this route, on top of the listener's.</param>
public sealed record RouteConfig(
    string Name,
    IReadOnlyList<RouteMatchConfig> Matches,
    IReadOnlyList<WeightedClusterConfig> Clusters,
    RedirectConfig? Redirect = null,
    RewriteConfig? Rewrite = null,
    HeaderOperationsConfig? RequestHeaders = null,
    HeaderOperationsConfig? ResponseHeaders = null,
    TimeSpan? Timeout = null,
    DirectResponseConfig? DirectResponse = null,
    RetryConfig? Retry = null,
    FaultConfig? Fault = null,
    IReadOnlyList<MirrorConfig>? Mirrors = null,
    CorsConfig? Cors = null,
    RateLimitConfig? RateLimit = null);

/// <summary>All present conditions must hold (AND). Istio's <c>HTTPMatchRequest</c>.</summary>
public sealed record RouteMatchConfig(
    StringMatchConfig? Uri = null,
    StringMatchConfig? Method = null,
    StringMatchConfig? Authority = null,
    IReadOnlyDictionary<string, StringMatchConfig>? Headers = null,
    IReadOnlyDictionary<string, StringMatchConfig>? QueryParams = null,
    IReadOnlyDictionary<string, StringMatchConfig>? WithoutHeaders = null,
    bool IgnoreUriCase = false,
    int? Port = null,
    StringMatchConfig? Scheme = null);

public enum StringMatchKind
{
    Exact,
    Prefix,
    Regex,
    /// <summary>Header present with any value (Istio: an empty match object).</summary>
    Present,
}

public sealed record StringMatchConfig(StringMatchKind Kind, string Value);

/// <summary>A destination of a route; its header operations apply (after the route's) only when it is the one picked.</summary>
public sealed record WeightedClusterConfig(
    string Cluster,
    int Weight,
    HeaderOperationsConfig? RequestHeaders = null,
    HeaderOperationsConfig? ResponseHeaders = null);

/// <summary>
/// HTTP redirect (Istio <c>HTTPRedirect</c>, Gateway API <c>RequestRedirect</c>); null parts keep the request's value.
/// A <see cref="Port"/> that is the scheme's well-known one (80 for http, 443 for https) is left out of the Location.
/// </summary>
/// <param name="PrefixRewrite">Instead of <see cref="Uri"/>: the path with the route's matched prefix replaced by this
/// (Gateway API <c>ReplacePrefixMatch</c>).</param>
public sealed record RedirectConfig(string? Uri = null, string? Authority = null, string? Scheme = null, int? Port = null, int StatusCode = 301, string? PrefixRewrite = null);

/// <summary>
/// Rewrite before forwarding: <see cref="UriPrefix"/> replaces the matched prefix (or whole path for exact matches);
/// <see cref="UriRegex"/> (Istio <c>uriRegexRewrite</c>, exclusive with the prefix) replaces every match of a
/// regular expression in the path with a substitution that may use <c>\1</c>-style groups.
/// </summary>
public sealed record RewriteConfig(string? UriPrefix = null, string? Authority = null, RegexRewriteConfig? UriRegex = null);

/// <summary>RE2 syntax as Envoy's <c>regex_rewrite</c>; <see cref="Rewrite"/> refers to groups as <c>\1</c>.</summary>
public sealed record RegexRewriteConfig(string Match, string Rewrite);

public sealed record HeaderOperationsConfig(
    IReadOnlyDictionary<string, string>? Set = null,
    IReadOnlyDictionary<string, string>? Add = null,
    IReadOnlyList<string>? Remove = null);

public enum LoadBalancerKind
{
    RoundRobin,
    /// <summary>Power of two choices by requests in flight (Istio's LEAST_REQUEST and LEAST_CONN).</summary>
    LeastRequest,
    Random,
    /// <summary>No balancing: the request goes to the address the client asked for (Istio's PASSTHROUGH).</summary>
    Passthrough,
}

/// <summary>
/// An upstream: a set of endpoints and how to talk to them. Names follow Envoy/Istio:
/// <c>outbound|9080|v1|reviews.default.svc.cluster.local</c>, <c>inbound|9080||reviews-v1-abc12</c>.
/// With <see cref="Activation"/>, a request that finds no endpoints waits for one instead of failing.
/// </summary>
/// <param name="ConsistentHash">When set, it replaces <paramref name="LoadBalancer"/>: session affinity by a request key.</param>
/// <param name="WarmupDuration">A new endpoint's share of traffic ramps up over this long (Istio's <c>warmupDurationSecs</c>).</param>
/// <param name="ConnectionPool">Circuit-breaker thresholds and connection settings (DestinationRule <c>connectionPool</c>).</param>
/// <param name="OutlierDetection">Passive health checking; null: endpoints are never ejected.</param>
/// <param name="Service">The service the cluster targets (<c>destination_service*</c> in telemetry); null for none.</param>
/// <param name="Tls">How connections to the endpoints are secured (mode and secure naming); null: cleartext.</param>
public sealed record ClusterConfig(
    string Name,
    IReadOnlyList<EndpointConfig> Endpoints,
    LoadBalancerKind LoadBalancer = LoadBalancerKind.RoundRobin,
    UpstreamProtocol Protocol = UpstreamProtocol.Http1,
    ActivationConfig? Activation = null,
    ConsistentHashConfig? ConsistentHash = null,
    TimeSpan? WarmupDuration = null,
    ConnectionPoolConfig? ConnectionPool = null,
    OutlierDetectionConfig? OutlierDetection = null,
    ServiceMetadata? Service = null,
    ClusterTlsConfig? Tls = null);

public enum UpstreamProtocol
{
    Http1,
    /// <summary>HTTP/2 with prior knowledge (h2c), as for gRPC upstreams.</summary>
    Http2,
}

/// <param name="Labels">The instance's labels (subsets, telemetry's <c>destination_app</c>/<c>destination_version</c>).</param>
/// <param name="Workload">The Deployment the instance belongs to (<c>destination_workload</c>); null when unknown.</param>
/// <param name="Namespace">Its namespace (<c>destination_workload_namespace</c>).</param>
/// <param name="Mtls">The endpoint is a proxy that accepts mTLS (its PeerAuthentication is not DISABLE): auto mTLS speaks mTLS to it.</param>
/// <param name="Pod">The instance behind the endpoint (<c>trellis edges po</c>); null when unknown.</param>
public sealed record EndpointConfig(
    string Address, int Port, IReadOnlyDictionary<string, string>? Labels = null, string? Workload = null, string? Namespace = null, bool Mtls = false, string? Pod = null);
