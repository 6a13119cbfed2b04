using Trellis.Proxy.Forwarding;
using Trellis.Proxy.LoadBalancing;

namespace Trellis.Proxy.Http1;

/// <summary>
/// The steps both fast paths share in their attempts at an exchange (<see cref="Http1Connection"/>,
/// <c>Http2Stream</c>): which connection an attempt gets, and whether a failed one is sent again.
/// Sending and reading stay with each path, whose steps differ (client writes, resets, bodies).
/// </summary>
internal static class UpstreamAttempt
{
    /// <summary>The first attempt takes a pooled connection when there is one; a second one always connects anew.</summary>
    /// <remarks>The cluster's connection pool settings apply: its connect and idle timeouts, and how many requests a connection may carry.
    /// <paramref name="source"/> is the SPIFFE ID of the calling workload (its listener's), for mTLS; <paramref name="authority"/>
    /// the request's upstream Host, for TLS origination's server name.</remarks>
    public static ValueTask<(UpstreamConnection? Connection, Exception? Error)> OpenAsync(
        UpstreamConnectionPool pool, ClusterState cluster, EndpointState endpoint, string? source, string? authority, int attempt, CancellationToken token = default)
    {
        // The transport (cleartext, mTLS as the calling workload, TLS to a server name) is part of the pool's key.
        var connector = cluster.ConnectorFor(endpoint, source, authority);
        return attempt == 0 && pool.TakeIdle(endpoint.Address, endpoint.Port, connector, cluster.Config.ConnectionPool) is { } idle
            ? new((idle, null))
            : pool.ConnectAsync(endpoint.Address, endpoint.Port, connector, cluster.Config.ConnectionPool, token);
    }

    /// <summary>
    /// Whether a first attempt that failed with <paramref name="error"/> is sent once more, on a new
    /// connection: when it failed on a reused connection before any response byte, which is what a
    /// keep-alive connection the upstream closed meanwhile (stale) looks like, so the request was not
    /// processed and may be retried (RFC 9110 §9.2.2), as SocketsHttpHandler does; and only when
    /// <paramref name="requestInHand"/>, i.e. all of it can be sent again.
    /// </summary>
    public static bool MayResend(UpstreamConnection failed, int attempt, bool requestInHand, ForwardError error, CancellationToken token) =>
        attempt == 0 && requestInHand && failed.Reused && failed.End == 0 && !token.IsCancellationRequested
            && error is ForwardError.UpstreamRequest or ForwardError.RequestBodyUpstream;
}
