using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Http1;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Serving;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// The Kestrel path's <see cref="IExchange"/>: a request as Kestrel parsed it (TLS listeners, revision instances,
/// HTTP/2 upstreams, upgrades, and whatever the fast paths hand over). Attempts go through <see cref="HttpForwarder"/>:
/// HTTP/1.1 upstreams over the pooled connections (<see cref="PooledHttp1Forwarder"/>), HTTP/2 upstreams and upgrades
/// over SocketsHttpHandler. A revision instance's <see cref="RequestDeadline"/>, when given, bounds every attempt.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The prefixed body wraps Kestrel's request body, which Kestrel owns; its buffer is returned through RegisterForDispose.")]
internal sealed class KestrelExchange : IExchange
{
    private readonly HttpForwarder _forwarder;
    private readonly Func<string> _requestIds;
    private byte[]? _heldBody;
    private int _heldLength;
    private Stream? _prefixedBody;
    private string? _requestId;

    public KestrelExchange(HttpContext context, RequestDeadline? deadline, HttpForwarder forwarder, Func<string> requestIds)
    {
        Context = context;
        Deadline = deadline;
        _forwarder = forwarder;
        _requestIds = requestIds;
        Request = RouteRequest.From(context);
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        Upgrade = upgrade is { IsUpgradableRequest: true } ? upgrade : null;
        _responseBody = CountingResponseBody.Install(context);
    }

    public HttpContext Context { get; }

    public RequestDeadline? Deadline { get; }

    /// <summary>Set for an upgrade request (WebSocket): it goes upstream as HTTP/1.1 with its Upgrade headers.</summary>
    public IHttpUpgradeFeature? Upgrade { get; }

    public RouteRequest Request { get; }

    public string Scheme => Context.Request.Scheme;

    public string ClientAddress => Context.Connection.RemoteIpAddress?.ToString() ?? string.Empty;

    public Security.PeerIdentity? Peer => Context.Features.Get<PeerIdentityFeature>()?.Peer;

    /// <summary>The SPIFFE ID the listener's workload calls upstream as (its mTLS client certificate); null for none.</summary>
    public string? SourceIdentity { get; init; }

    public bool HasBody => Context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true;

    public CancellationToken ClientGone => Context.RequestAborted;

    /// <summary>Sizes and gRPC status as far as Kestrel lets them be seen (<see cref="KestrelSizes"/>).</summary>
    public Telemetry.ExchangeTelemetry Telemetry
    {
        get
        {
            KestrelSizes.Measure(Context, _telemetry, _heldBody is null ? null : _heldLength, _responseBody?.Written);
            return _telemetry;
        }
    }

    private readonly Telemetry.ExchangeTelemetry _telemetry = new();
    private readonly CountingResponseBody? _responseBody;

    /// <summary>The x-request-id the upstream gets when the client sent none: one per request, for retries and mirrors alike.</summary>
    public string RequestId() => _requestId ??= _requestIds();

    // The request as an HTTP/1.1 head (KestrelRequestHead), written once, for UpstreamHeadWriter.
    private HeadBuilder? _clientHead;
    private RequestHead? _client;
    private bool _clientValid;

    // The attempt in flight (one of the two forms), filled and emptied by HttpForwarder.
    internal UpstreamConnection? Upstream;
    internal Task<ForwardError>? BodyCopy;
    internal BodyFraming Framing;
    internal HttpResponseMessage? Response;
    internal StreamingRequestContent? Content;
    internal EndpointState? Endpoint;
    internal CancellationTokenSource? AttemptCancellation;
    internal CancellationTokenRegistration[] Registrations = new CancellationTokenRegistration[3];

    /// <summary>
    /// The body for one attempt: the held copy when the whole body is in memory (every attempt gets its own reader),
    /// else the client's stream (once), after the part <see cref="HoldBodyAsync"/> already read.
    /// </summary>
    public Stream BodyForAttempt()
    {
        if (_heldBody is not null)
        {
            return new MemoryStream(_heldBody, 0, _heldLength, writable: false);
        }

        return _prefixedBody ?? Context.Request.Body;
    }

    /// <summary>Whether every attempt can send the body whole (none, or held in memory).</summary>
    public bool BodyReplayable => _heldBody is not null || !HasBody;

    public async ValueTask<bool> HoldBodyAsync(int limit)
    {
        if (_heldBody is not null || !HasBody)
        {
            return true;
        }

        var request = Context.Request;
        if (_prefixedBody is not null || request.ContentLength > limit || request.Headers.Expect.ToString().Contains("100-continue", StringComparison.OrdinalIgnoreCase))
        {
            return false; // an Expect: 100-continue client waits for the upstream's 100 before it sends the body
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(limit, (int?)request.ContentLength ?? limit) + 1);
        var length = 0;
        try
        {
            while (true)
            {
                var read = await request.Body.ReadAsync(buffer.AsMemory(length, buffer.Length - length), Context.RequestAborted);
                if (read == 0)
                {
                    _heldBody = buffer;
                    _heldLength = length;
                    buffer = null;
                    Context.Response.RegisterForDispose(new ReturnToPool(_heldBody));
                    return true;
                }

                length += read;
                if (length == buffer.Length)
                {
                    if (length > limit)
                    {
                        // Larger than the bound: what was read goes first, the rest streams after it, to one attempt.
                        _prefixedBody = new PrefixedStream(buffer, length, request.Body);
                        Context.Response.RegisterForDispose(new ReturnToPool(buffer));
                        buffer = null;
                        return false;
                    }

                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, limit + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or BadHttpRequestException)
        {
            return false; // the client's body broke: the attempt finds out as it reads it
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>How the body follows the upstream head, and whether the client asked for a 100 first.</summary>
    public (BodyFraming Framing, bool ExpectsContinue) BodyShape()
    {
        var client = Client();
        return (client is null ? BodyFraming.None : client.Chunked ? BodyFraming.Chunked : client.ContentLength > 0 ? BodyFraming.ContentLength : BodyFraming.None,
            client?.ExpectContinue == true);
    }

    /// <summary>
    /// The upstream head into <paramref name="output"/>, by the one writer of upstream heads; false when Kestrel's
    /// request could not be written as a head (nothing may then go upstream).
    /// </summary>
    /// <param name="endpoint">Its authority stands in for a missing Host; null for a mirror's copy.</param>
    public bool WriteUpstreamHead(HeadBuilder output, CompiledRoute route, CompiledMatch? matched, HeaderOperations? operations, EndpointState? endpoint, string? authority)
    {
        if (Client() is not { } client)
        {
            return false;
        }

        var request = new ClientRequest(
            Request.Authority, Request.Path, ClientAddress, Scheme, RequestId, Upgrade is not null, endpoint is null ? null : DefaultAuthority(endpoint),
            _telemetry);
        UpstreamHeadWriter.Write(output, client, _clientHead!.Written.Span, request, route, matched, operations, authority);
        return true;
    }

    /// <summary>As above, into a new pooled buffer, parsed again for a translation field by field (<see cref="RequestMessageFactory"/>).</summary>
    public (HeadBuilder Buffer, RequestHead Head, BodyFraming Framing) WriteUpstreamHead(
        CompiledRoute route, CompiledMatch? matched, HeaderOperations? operations, EndpointState endpoint, string? authority)
    {
        var output = new HeadBuilder(2048);
        var head = new RequestHead();
        if (!WriteUpstreamHead(output, route, matched, operations, endpoint, authority) || head.Parse(output.Written.Span, trusted: true) != HeadParse.Complete)
        {
            output.Clear();
            output.Append("GET / HTTP/1.1\r\n\r\n"u8); // unreachable for a request Kestrel accepted; sends nothing of it
            head.Parse(output.Written.Span, trusted: true);
        }

        return (output, head, BodyShape().Framing);
    }

    private RequestHead? Client()
    {
        if (_client is null)
        {
            _clientHead = new HeadBuilder(2048);
            _client = new RequestHead();
            _clientValid = KestrelRequestHead.TryWrite(Context, _clientHead, _client);
            Context.Response.RegisterForDispose(new ReturnHead(_clientHead));
        }

        return _clientValid ? _client : null;
    }

    /// <summary>What SocketsHttpHandler writes without a Host header: the endpoint's host, and its port unless it is 80.</summary>
    private static string DefaultAuthority(EndpointState endpoint)
    {
        var authority = endpoint.Origin.AsSpan("http://".Length);
        return authority.EndsWith(":80", StringComparison.Ordinal) ? authority[..^3].ToString() : authority.ToString();
    }

    public ValueTask<AttemptResult> AttemptAsync(Attempt attempt, CancellationToken token) => _forwarder.SendAsync(this, attempt, token);

    public bool TryGetResponseHeader(string name, out string value) => _forwarder.TryGetResponseHeader(this, name, out value);

    public bool Contains(ReadOnlySpan<char> name) =>
        Upstream is { } upstream ? ResponseFieldLookup.Contains(upstream, name) : _forwarder.TryGetResponseHeader(this, name.ToString(), out _);

    public void DiscardResponse() => _forwarder.Discard(this);

    public ValueTask<ForwardError> RelayAsync(ResponseEdits edits, CancellationToken token) => _forwarder.RelayAsync(this, edits, token);

    public bool WriteMirror(HeadBuilder output, CompiledRoute route, CompiledMatch? matched, HeaderOperations? operations, string authority)
    {
        if (!BodyReplayable || Upgrade is not null)
        {
            return false;
        }

        if (BodyShape().Framing == BodyFraming.Chunked || !WriteUpstreamHead(output, route, matched, operations, null, authority))
        {
            return false; // a held body of unknown length would need chunk framing here: not mirrored
        }

        output.Append(_heldBody.AsSpan(0, _heldLength));
        return true;
    }

    public async ValueTask AnswerAsync(LocalReply reply)
    {
        var response = Context.Response;
        if (reply.Error == ForwardError.RequestCanceled || response.HasStarted)
        {
            Context.Abort();
            return;
        }

        response.Clear();
        response.StatusCode = reply.Status;
        if (reply.ContentType is not null)
        {
            response.ContentType = reply.ContentType;
        }

        response.ContentLength = reply.Body.Length;
        foreach (var (name, value) in reply.Headers ?? [])
        {
            response.Headers.Append(name, value);
        }

        if (reply.Flags != ResponseFlags.None)
        {
            response.Headers[ResponseFlagNames.Header] = reply.Flags.ToShortString();
        }

        if (!reply.Body.IsEmpty)
        {
            await response.Body.WriteAsync(reply.Body);
        }
    }

    private sealed class ReturnHead(HeadBuilder head) : IDisposable
    {
        public void Dispose() => head.ReturnBuffer();
    }

    private sealed class ReturnToPool(byte[] buffer) : IDisposable
    {
        public void Dispose() => ArrayPool<byte>.Shared.Return(buffer);
    }
}
