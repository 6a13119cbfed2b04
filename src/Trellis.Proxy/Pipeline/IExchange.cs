using Trellis.Proxy.Forwarding;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Pipeline;

/// <summary>
/// The protocol-neutral view of one request that <see cref="RequestPipeline"/> decides about. Each engine
/// implements it over its own representation (the HTTP/1.1 fast path over bytes in its read buffer, the HTTP/2 fast
/// path over a stream, the Kestrel path over an HttpContext) and is specialised only in how it moves bytes: what to
/// do with a request (route, policy, which endpoint, retry or not, which headers) is decided once, by the pipeline.
/// </summary>
internal interface IExchange : Resilience.IResponseHeaderLookup
{
    /// <summary>The request as routing reads it.</summary>
    RouteRequest Request { get; }

    /// <summary><c>http</c> or <c>https</c>, as the client reached the listener (redirects keep it).</summary>
    string Scheme { get; }

    /// <summary>The client's IP address as text (x-forwarded-for, source-IP hashing); empty when unknown.</summary>
    string ClientAddress { get; }

    /// <summary>The verified identity of the peer proxy that sent the request over mTLS; null for a cleartext client.</summary>
    Security.PeerIdentity? Peer { get; }

    /// <summary>The SPIFFE ID this proxy calls upstream as (its listener's workload), for mTLS; null when it has none.</summary>
    string? SourceIdentity { get; }

    /// <summary>A body follows the head (declared, chunked, or an HTTP/2 stream still open).</summary>
    bool HasBody { get; }

    /// <summary>
    /// Reads the rest of the request body into memory when it fits in <paramref name="limit"/> bytes, so that every
    /// attempt can send it whole (a retry after the upstream saw it). True when all of it is now in hand; false when
    /// it is larger or still unknown, and it then streams to one attempt only.
    /// </summary>
    ValueTask<bool> HoldBodyAsync(int limit);

    /// <summary>
    /// Cancelled when the client goes away. Asking for it arms the engine's watch for the client, for waits outside
    /// an attempt (a fault's delay, a backoff, the activator).
    /// </summary>
    CancellationToken ClientGone { get; }

    /// <summary>
    /// One try at <see cref="Attempt.Endpoint"/>: sends the request (the forwarding rules and the route's and the
    /// destination's request edits applied) and reads the response head, which the engine then holds until
    /// <see cref="RelayAsync"/> or <see cref="DiscardResponse"/>. A stale pooled connection is the engine's to retry
    /// (as SocketsHttpHandler does); that is not a policy retry. <paramref name="token"/> is the route's timeout and
    /// the try's own.
    /// </summary>
    ValueTask<AttemptResult> AttemptAsync(Attempt attempt, CancellationToken token);

    /// <summary>A field of the held response head (grpc-status, retriable headers), joined as on the wire.</summary>
    bool TryGetResponseHeader(string name, out string value);

    /// <summary>Drops the held response (a retry follows): its upstream connection is closed, never pooled.</summary>
    void DiscardResponse();

    /// <summary>Sends the held response to the client with <paramref name="edits"/> applied, then its body as it comes.</summary>
    ValueTask<ForwardError> RelayAsync(ResponseEdits edits, CancellationToken token);

    /// <summary>
    /// Writes a copy of the request for a mirror into <paramref name="output"/>: the upstream head as an attempt would
    /// send it (the route's rewrites and <paramref name="operations"/>), with <paramref name="authority"/> as its Host, and the body.
    /// False, with nothing written, when there is a body and not all of it is in hand.
    /// </summary>
    bool WriteMirror(Http1.HeadBuilder output, CompiledRoute route, CompiledMatch? matched, HeaderOperations? operations, string authority);

    /// <summary>The proxy's own answer; a client that left gets nothing, a response already started is cut off.</summary>
    ValueTask AnswerAsync(LocalReply reply);

    /// <summary>What telemetry keeps of this request: read from its head when the pipeline starts, counted as bytes move.</summary>
    Telemetry.ExchangeTelemetry Telemetry { get; }
}

/// <summary>
/// What one try is about; <see cref="Destination"/> indexes the route's destinations (their header edits).
/// <see cref="RequestEdits"/> are this request's own (authentication's outputs), applied before the route's.
/// </summary>
internal readonly record struct Attempt(
    CompiledRoute Route,
    CompiledMatch? Matched,
    ClusterState Cluster,
    EndpointState Endpoint,
    int Destination,
    int Number,
    HeaderOperations? RequestEdits = null)
{
    /// <summary>The request header operations this try sends with: the request's own, then the route's and destination's.</summary>
    public HeaderOperations? RequestHeaders => HeaderOperations.Merge(RequestEdits, Route.RequestHeadersFor(Destination));
}

internal enum AttemptEnd : byte
{
    /// <summary>A final response head arrived; the engine holds it.</summary>
    Response,

    /// <summary>No connection: the request never reached the upstream.</summary>
    ConnectFailure,

    /// <summary>The upstream refused the stream unprocessed (HTTP/2 REFUSED_STREAM): it never saw the request.</summary>
    RefusedStream,

    /// <summary>The upstream closed or reset the connection before a response head.</summary>
    Reset,

    /// <summary>The route's timeout or the try's own elapsed before a response head.</summary>
    Timeout,

    /// <summary>The client went away or broke its request: nothing more to do.</summary>
    ClientFailure,
}

/// <param name="Status">The response status when <see cref="Outcome"/> is <see cref="AttemptEnd.Response"/>.</param>
/// <param name="RequestSent">Whether any of the request reached the upstream (decides what may be retried).</param>
/// <param name="Error">The failure as the access log names it (<see cref="ForwardError.None"/> for a response).</param>
internal readonly record struct AttemptResult(AttemptEnd Outcome, int Status, bool RequestSent, ForwardError Error)
{
    public static AttemptResult Responded(int status) => new(AttemptEnd.Response, status, true, ForwardError.None);

    public static AttemptResult Failed(ForwardError error, bool requestSent, bool clientGone = false) => new(
        clientGone || error is ForwardError.RequestCanceled or ForwardError.RequestBodyClient ? AttemptEnd.ClientFailure
        : error == ForwardError.UpstreamConnect ? AttemptEnd.ConnectFailure
        : error == ForwardError.UpstreamTimeout ? AttemptEnd.Timeout
        : AttemptEnd.Reset,
        0,
        requestSent,
        error);
}
