namespace Trellis.Api.Snapshots;

// The traffic policy of routes and clusters, as the control plane compiles it from VirtualServices
// (retries, fault, mirror, CORS, direct responses), DestinationRules (load balancing, connection
// pool, outlier detection) and LocalRateLimits. Defaults are resolved by the compiler and written
// out, so a snapshot says exactly what a proxy does; the records' own defaults are Envoy's and
// Istio's, for snapshots written by hand. Semantics: istio/api networking/v1 and Envoy's docs.

/// <summary>A fixed answer instead of forwarding (Istio <c>directResponse</c>).</summary>
/// <param name="Body">The body as bytes (Istio's <c>body.string</c> as UTF-8, or <c>body.bytes</c>); null for none.</param>
public sealed record DirectResponseConfig(int Status, byte[]? Body = null);

/// <summary>Envoy condition names accepted in <see cref="RetryConfig.RetryOn"/>.</summary>
public static class RetryConditions
{
    public const string FiveXx = "5xx";
    public const string GatewayError = "gateway-error";
    public const string Reset = "reset";
    public const string ConnectFailure = "connect-failure";
    public const string RefusedStream = "refused-stream";
    public const string Retriable4xx = "retriable-4xx";
    public const string RetriableStatusCodes = "retriable-status-codes";
    public const string RetriableHeaders = "retriable-headers";
    public const string Cancelled = "cancelled";
    public const string DeadlineExceeded = "deadline-exceeded";
    public const string Internal = "internal";
    public const string ResourceExhausted = "resource-exhausted";
    public const string Unavailable = "unavailable";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal)
    {
        FiveXx, GatewayError, Reset, ConnectFailure, RefusedStream, Retriable4xx, RetriableStatusCodes, RetriableHeaders,
        Cancelled, DeadlineExceeded, Internal, ResourceExhausted, Unavailable,
    };
}

/// <summary>
/// A route's retry policy (Istio <c>HTTPRetry</c>, Envoy's <c>retry_policy</c>).
/// </summary>
/// <param name="Attempts">Retries after the first try (Istio's <c>attempts</c>, Envoy's <c>num_retries</c>); 0 disables.</param>
/// <param name="PerTryTimeout">Each try's own limit, inside the route's timeout; null: only the route timeout.</param>
/// <param name="RetryOn">Condition names (<see cref="RetryConditions"/>).</param>
/// <param name="RetriableStatusCodes">Statuses retried under <c>retriable-status-codes</c> (Istio writes them as numbers in <c>retryOn</c>).</param>
/// <param name="RetryOnExplicit">False when the policy is Istio's default (no <c>retries</c> written): a request that is not
/// idempotent (POST, PATCH) or whose body is too large to keep is then retried only when it never reached the upstream.
/// True: the user named the conditions, and they apply to every method.</param>
/// <param name="BackoffBase">Base interval of the fully jittered exponential backoff (Envoy: 25 ms); the cap is 10 × it.</param>
/// <param name="IgnorePreviousHosts">A retry picks another endpoint than the one that just failed when the cluster has one
/// (Istio's <c>retryIgnorePreviousHosts</c>, default true: Envoy's <c>previous_hosts</c> predicate).</param>
public sealed record RetryConfig(
    int Attempts,
    TimeSpan? PerTryTimeout = null,
    IReadOnlyList<string>? RetryOn = null,
    IReadOnlyList<int>? RetriableStatusCodes = null,
    bool RetryOnExplicit = true,
    TimeSpan? BackoffBase = null,
    bool RetryRemoteLocalities = false,
    bool IgnorePreviousHosts = true);

/// <summary>Faults injected into matching requests (Istio <c>HTTPFaultInjection</c>), evaluated before forwarding.</summary>
public sealed record FaultConfig(FaultDelayConfig? Delay = null, FaultAbortConfig? Abort = null);

/// <param name="Percentage">Share of requests delayed, 0–100.</param>
public sealed record FaultDelayConfig(TimeSpan FixedDelay, double Percentage = 100);

/// <summary>Exactly one of <paramref name="HttpStatus"/> and <paramref name="GrpcStatus"/> (a gRPC status code, 0–16).</summary>
/// <param name="Percentage">Share of requests aborted, 0–100.</param>
public sealed record FaultAbortConfig(int? HttpStatus = null, int? GrpcStatus = null, double Percentage = 100);

/// <summary>
/// A fire-and-forget copy of each request (of <paramref name="Percentage"/> of them) to <paramref name="Cluster"/>,
/// with <c>-shadow</c> appended to the authority as Envoy does; its answer is dropped and it never delays or fails
/// the request it copies.
/// </summary>
public sealed record MirrorConfig(string Cluster, double Percentage = 100);

/// <summary>
/// CORS (Istio <c>CorsPolicy</c>): preflights from an allowed origin are answered by the proxy; other requests from
/// an allowed origin get the <c>Access-Control-*</c> response headers.
/// </summary>
/// <param name="ForwardUnmatchedPreflights">Istio's <c>unmatchedPreflights</c>: FORWARD (true, the default) sends a
/// preflight from an origin that is not allowed upstream; IGNORE answers it without CORS headers.</param>
public sealed record CorsConfig(
    IReadOnlyList<StringMatchConfig> AllowOrigins,
    IReadOnlyList<string>? AllowMethods = null,
    IReadOnlyList<string>? AllowHeaders = null,
    IReadOnlyList<string>? ExposeHeaders = null,
    TimeSpan? MaxAge = null,
    bool? AllowCredentials = null,
    bool ForwardUnmatchedPreflights = true);

/// <summary>
/// A local token bucket (Envoy's <c>local_ratelimit</c>): holds up to <paramref name="MaxTokens"/>, gains
/// <paramref name="TokensPerFill"/> every <paramref name="FillInterval"/>; a request takes one token or is answered
/// 429 with <c>x-ratelimit-limit</c>, <c>x-ratelimit-remaining</c> and <c>x-ratelimit-reset</c>. Counted in each
/// proxy, not across the mesh.
/// </summary>
public sealed record RateLimitConfig(int MaxTokens, int TokensPerFill, TimeSpan FillInterval);

public enum HashKeyKind
{
    Header,
    /// <summary>A cookie; the proxy issues it (with the configured path and TTL) when the request has none.</summary>
    Cookie,
    SourceIp,
    QueryParameter,
}

public enum HashAlgorithm
{
    RingHash,
    Maglev,
}

/// <summary>
/// Session affinity (Istio <c>consistentHash</c>): requests with the same key go to the same endpoint, and removing
/// an endpoint moves only the keys it had.
/// </summary>
/// <param name="Name">Header, cookie or query parameter name; empty for <see cref="HashKeyKind.SourceIp"/>.</param>
/// <param name="CookieTtl">Lifetime of an issued cookie; null or zero issues a session cookie.</param>
/// <param name="MinimumRingSize">Ring hash: virtual nodes on the ring (Envoy's default 1024).</param>
/// <param name="MaglevTableSize">Maglev: lookup table size, a prime (Envoy's default 65537).</param>
public sealed record ConsistentHashConfig(
    HashKeyKind Key,
    string Name = "",
    string? CookiePath = null,
    TimeSpan? CookieTtl = null,
    HashAlgorithm Algorithm = HashAlgorithm.RingHash,
    int MinimumRingSize = 1024,
    int MaglevTableSize = 65537);

/// <summary>
/// Circuit-breaker thresholds and connection settings of a cluster, per proxy, as Envoy applies Istio's
/// <c>connectionPool</c>. A request over a threshold is answered 503 at once with the <c>UO</c> flag.
/// Null thresholds are unlimited.
/// </summary>
/// <param name="MaxConnections"><c>tcp.maxConnections</c>: upstream connections in use by the cluster at once.</param>
/// <param name="MaxPendingRequests"><c>http.http1MaxPendingRequests</c>: requests that may wait for a connection while
/// <paramref name="MaxConnections"/> are in use; beyond, 503 UO.</param>
/// <param name="MaxRequests"><c>http.http2MaxRequests</c>: requests in flight to the cluster at once.</param>
/// <param name="MaxRetries"><c>http.maxRetries</c>: retries in flight at once. Null: the retry budget applies instead.</param>
/// <param name="RetryBudgetPercent">Retries in flight at most this share of active requests (Envoy's <c>retry_budget</c>),
/// but always at least <paramref name="RetryBudgetMinConcurrency"/>.</param>
/// <param name="MaxRequestsPerConnection"><c>http.maxRequestsPerConnection</c>: an upstream connection is closed after this many; null unlimited.</param>
/// <param name="ConnectTimeout"><c>tcp.connectTimeout</c>; null: the proxy's default (5 s).</param>
/// <param name="IdleTimeout"><c>http.idleTimeout</c>: an idle pooled upstream connection is closed after this long; null: the proxy's default.</param>
/// <param name="TcpKeepalive"><c>tcp.tcpKeepalive</c>: null leaves keep-alive probes off.</param>
/// <param name="MaxConnectionDuration"><c>tcp.maxConnectionDuration</c>: an upstream connection this old is closed once its
/// exchange ends instead of being reused; null: the proxy's pooled-connection lifetime.</param>
public sealed record ConnectionPoolConfig(
    int? MaxConnections = null,
    int? MaxPendingRequests = null,
    int? MaxRequests = null,
    int? MaxRetries = null,
    double RetryBudgetPercent = 20,
    int RetryBudgetMinConcurrency = 3,
    int? MaxRequestsPerConnection = null,
    TimeSpan? ConnectTimeout = null,
    TimeSpan? IdleTimeout = null,
    TcpKeepaliveConfig? TcpKeepalive = null,
    TimeSpan? MaxConnectionDuration = null);

/// <summary>Kernel keep-alive probes on upstream connections; null parts keep the system's settings.</summary>
public sealed record TcpKeepaliveConfig(int? Probes = null, TimeSpan? Time = null, TimeSpan? Interval = null);

/// <summary>
/// Passive health checking (Istio <c>OutlierDetection</c>, Envoy's outlier detection). An endpoint whose consecutive
/// failures reach a threshold is ejected for <c>BaseEjectionTime × times ejected</c>; at most
/// <see cref="MaxEjectionPercent"/> of the cluster is ejected at once, but always at least one endpoint; with fewer
/// than <see cref="MinHealthPercent"/> of the endpoints healthy, ejection stops counting and every endpoint serves.
/// </summary>
public sealed record OutlierDetectionConfig
{
    /// <summary>5xx answers (and local-origin failures unless split) in a row; 0 disables.</summary>
    public int Consecutive5xxErrors { get; init; } = 5;

    /// <summary>502, 503, 504 answers and connect failures in a row; 0 disables.</summary>
    public int ConsecutiveGatewayErrors { get; init; }

    /// <summary>With <see cref="SplitExternalLocalOriginErrors"/>: connect failures, resets and timeouts in a row.</summary>
    public int ConsecutiveLocalOriginFailures { get; init; } = 5;

    /// <summary>Count failures the proxy saw itself (connect, reset, timeout) apart from the upstream's 5xx answers.</summary>
    public bool SplitExternalLocalOriginErrors { get; init; }

    /// <summary>How often ejections are reviewed (an ejected endpoint returns at the first review after its time is up).</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan BaseEjectionTime { get; init; } = TimeSpan.FromSeconds(30);

    public int MaxEjectionPercent { get; init; } = 10;

    public int MinHealthPercent { get; init; }
}
