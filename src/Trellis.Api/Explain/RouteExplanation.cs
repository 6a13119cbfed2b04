using Trellis.Api.Snapshots;

namespace Trellis.Api.Explain;

// What `trellis route explain` answers (docs/route-explain.md): how one proxy would route one request, computed from
// the snapshot it is serving. The proxy's admin endpoint returns it as camelCase JSON; the control plane forwards it.

/// <summary>A request to explain: which listener of the proxy, and the request as a client would send it.</summary>
/// <param name="Listener">A listener name; null: the listener whose port is the URL's (a gateway).</param>
/// <param name="Url">Absolute (<c>http://reviews:9080/reviews/1?x=1</c>); its authority is the Host the request carries.</param>
/// <param name="Headers">Request headers, names in any case; a <c>host</c> header replaces the URL's authority.</param>
public sealed record ExplainRequest(string? Listener, string Method, string Url, IReadOnlyList<KeyValuePair<string, string>> Headers);

/// <param name="Outcome">What the proxy does: <c>forward</c>, <c>redirect</c>, <c>direct-response</c>, <c>no-route</c> (404 NR)
/// or <c>no-virtual-host</c> (404 NR); <c>error</c> with <see cref="Error"/> when the request could not be explained.</param>
/// <param name="Rules">Every route of the virtual host up to the one that matched, each with why it did or did not.</param>
/// <param name="Route">The matched route as the snapshot has it: its retry, timeout, fault, mirror, CORS and rate limit policy.</param>
/// <param name="Proxy">The proxy that answered (<c>gateway/ingress</c>, <c>node/local</c>).</param>
public sealed record RouteExplanation(
    string Outcome,
    string? Proxy = null,
    string? SnapshotVersion = null,
    string? Listener = null,
    ListenerKind? ListenerKind = null,
    string? Method = null,
    string? Authority = null,
    string? Path = null,
    string? Query = null,
    string? VirtualHost = null,
    IReadOnlyList<RuleExplanation>? Rules = null,
    RouteConfig? Route = null,
    IReadOnlyList<DestinationExplanation>? Destinations = null,
    RateLimitConfig? ListenerRateLimit = null,
    string? Error = null);

/// <summary>One route of the virtual host, in order. <see cref="Reason"/> says which condition failed, or which match held.</summary>
public sealed record RuleExplanation(string Route, bool Matched, string Reason);

/// <summary>A destination of the matched route, its share of requests, its cluster's policy and endpoints.</summary>
/// <param name="Share">The percentage of requests that go here (its weight over the total).</param>
/// <param name="Cluster">The cluster's settings as the snapshot has them (load balancing, consistent hash, connection pool, outlier detection), endpoints left out.</param>
public sealed record DestinationExplanation(string ClusterName, int Weight, double Share, ClusterConfig? Cluster, IReadOnlyList<EndpointExplanation> Endpoints);

/// <param name="Outlier">The endpoint's outlier-detection state; null when the proxy keeps none for it (no <c>outlierDetection</c>).</param>
public sealed record EndpointExplanation(string Address, int Port, IReadOnlyDictionary<string, string>? Labels, int ActiveRequests, OutlierStateView? Outlier = null);

/// <summary>
/// Outlier detection as the proxy sees the endpoint now: ejected or not, until when (null when serving, or when the
/// proxy does not know yet), how often it was ejected, and its current failure streaks.
/// </summary>
public sealed record OutlierStateView(bool Ejected, DateTimeOffset? EjectedUntil, int TimesEjected, int Consecutive5xx, int ConsecutiveGatewayErrors, int ConsecutiveLocalOriginFailures);

/// <summary>
/// A proxy's clusters with their endpoints as it sees them now (Envoy's <c>/clusters</c> role): what <c>trellis describe</c>
/// shows for a DestinationRule or Service, outlier state included.
/// </summary>
public sealed record ClusterStatus(string Name, IReadOnlyList<EndpointExplanation> Endpoints);

/// <summary>One proxy's answer to <c>/clusters</c>, as the control plane gathers them.</summary>
public sealed record ProxyClusters(string Proxy, IReadOnlyList<ClusterStatus> Clusters, string? Error = null);
