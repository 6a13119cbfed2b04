namespace Trellis.Proxy;

/// <summary>Process-wide settings of a <see cref="ProxyServer"/>; per-route and per-cluster settings come from snapshots.</summary>
public sealed record ProxyServerOptions
{
    /// <summary>Shown in telemetry and logs.</summary>
    public string NodeName { get; init; } = "proxy";

    /// <summary>How long to wait for a TCP connection to an upstream endpoint before answering 503.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Idle keep-alive connections to upstreams are closed after this long.</summary>
    public TimeSpan PooledConnectionIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Upstream connections are recycled after this long so that a changed DNS answer or a
    /// rebalanced upstream is picked up; in-flight requests are not affected.
    /// </summary>
    public TimeSpan PooledConnectionLifetime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a removed listener may take to finish its in-flight requests before they are aborted.</summary>
    public TimeSpan ListenerDrainTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Concurrent HTTP/2 streams a downstream client may open on one connection.</summary>
    public int MaxHttp2StreamsPerConnection { get; init; } = 256;

    /// <summary>
    /// Run requests on the thread that completed the socket read (Kestrel's <c>UnsafePreferInlineScheduling</c>)
    /// rather than queueing them to another thread: no hand-off, no wake-up per request. "Unsafe" only
    /// for a request delegate that blocks, which the proxy's never does. Pairs with inline socket
    /// completions (set by the CLI for server roles), which makes the whole request run on the epoll
    /// thread as in nginx. docs/benchmarks.md, history.
    /// </summary>
    public bool InlineScheduling { get; init; } = true;

    /// <summary>
    /// Cleartext HTTP/1.1 listeners serve plain exchanges on the fast path (<see cref="Http1.Http1Listener"/>):
    /// requests and responses relayed as bytes over pooled upstream connections, with Kestrel taking
    /// over any connection that needs more. docs/benchmarks.md, history.
    /// </summary>
    public bool FastHttp1 { get; init; } = true;

    /// <summary>
    /// Cleartext h2c (prior knowledge) listeners serve their streams on the fast path too
    /// (<see cref="Http2.Http2Connection"/>): our own HTTP/2 framing in front of the same pooled
    /// HTTP/1.1 upstream exchanges, with Kestrel taking connections whose listener needs more.
    /// </summary>
    public bool FastHttp2 { get; init; } = true;

    /// <summary>Size of the pooled buffer used to copy each body direction.</summary>
    public int CopyBufferSize { get; init; } = 64 * 1024;

    /// <summary>Bound on one regex evaluation in route matching; a timed-out match counts as no match.</summary>
    public TimeSpan RegexMatchTimeout { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Returns a uniformly distributed integer in [0, maxExclusive). Used for weighted cluster
    /// picks and the Random/LeastRequest balancers. Called concurrently: must be thread-safe.
    /// </summary>
    public Func<int, int> Random { get; init; } = System.Random.Shared.Next;

    /// <summary>Generates an <c>x-request-id</c> for requests that arrive without one.</summary>
    public Func<string> RequestIdGenerator { get; init; } = Forwarding.RequestIds.NewId;
}
