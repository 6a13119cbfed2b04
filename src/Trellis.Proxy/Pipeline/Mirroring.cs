using System.Buffers;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Trellis.Proxy.Http1;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Pipeline;

/// <summary>
/// Stage (4): fire-and-forget copies of a request to a route's mirror clusters (Istio <c>mirror</c>/<c>mirrors</c>),
/// with <c>-shadow</c> appended to the host as Envoy does. The copy is made before the request is forwarded (the
/// head and a body in hand, into a pooled buffer) and sent from the thread pool; its answer is read and dropped. A
/// mirror never delays the request it copies, and its failure is only logged. A request whose body is not in hand
/// (larger than the replay bound, or streamed) is not mirrored.
/// </summary>
internal sealed partial class Mirroring
{
    private readonly UpstreamConnectionPool _pool;
    private readonly ProxyServerOptions _options;
    private readonly ILogger _logger;
    private long _skipped;

    public Mirroring(UpstreamConnectionPool pool, ProxyServerOptions options, ILogger logger)
    {
        _pool = pool;
        _options = options;
        _logger = logger;
    }

    /// <summary>Mirror copies not sent because the request's body was not in hand (telemetry and tests).</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    /// <summary>Starts a copy to each mirror whose percentage draws this request; returns at once.</summary>
    /// <param name="requestEdits">The request's own header edits (authentication's outputs), applied before the route's.</param>
    public void Copy(IExchange exchange, CompiledRoute route, CompiledMatch? matched, HeaderOperations? requestEdits)
    {
        var mirrors = route.Mirrors;
        var operations = HeaderOperations.Merge(requestEdits, route.RequestHeadersFor(0));
        for (var i = 0; i < mirrors.Length; i++)
        {
            var (cluster, percentage) = mirrors[i];
            if (!(percentage >= 100 || (percentage > 0 && _options.Random(1_000_000) < percentage * 10_000)))
            {
                continue;
            }

            var endpoint = cluster.PickEndpoint();
            if (endpoint is null || cluster.Protocol != Trellis.Api.Snapshots.UpstreamProtocol.Http1)
            {
                continue;
            }

            var head = new HeadBuilder(1024);
            if (!exchange.WriteMirror(head, route, matched, operations, ShadowHost(exchange.Request.Authority)))
            {
                head.ReturnBuffer();
                Interlocked.Increment(ref _skipped);
                continue;
            }

            // The copy's transport is the request's own (mTLS as the calling workload, a rule's TLS origination: never
            // dropped for a copy, or a STRICT mirror would refuse it), named by the request's upstream host, not its
            // shadow name (the same servers and certificates).
            var connector = cluster.ConnectorFor(endpoint, exchange.SourceIdentity, route.UpstreamAuthority(exchange.Request.Authority));
            _ = Task.Run(() => SendAsync(head, cluster, endpoint, connector));
        }
    }

    /// <summary>Envoy's shadow host: <c>-shadow</c> after the host name, before a port (<c>a:80</c> → <c>a-shadow:80</c>).</summary>
    public static string ShadowHost(string authority)
    {
        var colon = RouteRequest.AuthorityPortSeparator(authority);
        return colon < 0 ? authority + "-shadow" : string.Concat(authority.AsSpan(0, colon), "-shadow", authority.AsSpan(colon));
    }

    private async Task SendAsync(HeadBuilder request, ClusterState cluster, EndpointState endpoint, Upstream.IUpstreamConnector connector)
    {
        UpstreamConnection? connection = null;
        try
        {
            (connection, var error) = await _pool.ConnectAsync(endpoint.Address, endpoint.Port, connector, cluster.Config.ConnectionPool);
            if (connection is null)
            {
                Log.MirrorFailed(_logger, endpoint.Origin, error?.Message ?? "connect failed");
                return;
            }

            await connection.SendAsync(request.Written, CancellationToken.None);
            using var timeout = new CancellationTokenSource(MirrorTimeout);
            await connection.ReadResponseHeadAsync(null, timeout.Token); // the answer is dropped; the connection with it
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            Log.MirrorFailed(_logger, endpoint.Origin, ex.Message);
        }
        finally
        {
            connection?.Dispose();
            request.ReturnBuffer();
        }
    }

    /// <summary>A mirror that does not answer within this long is given up (its connection closed).</summary>
    private static readonly TimeSpan MirrorTimeout = TimeSpan.FromSeconds(30);

    private static partial class Log
    {
        [LoggerMessage(EventId = 320, Level = LogLevel.Debug, Message = "Mirror copy to {Upstream} failed: {Reason}")]
        public static partial void MirrorFailed(ILogger logger, string upstream, string reason);
    }
}
