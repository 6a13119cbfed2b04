using System.Net;
using System.Net.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Listeners;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Serving;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Forwarding;

/// <summary>
/// The Kestrel path's attempts and relays (<see cref="KestrelExchange"/>). Steps:
/// (1) one cancellation source per attempt: the pipeline's token (route and try timeouts), the client going away,
///     and a revision instance's deadline;
/// (2) HTTP/1.1 clusters go over the pooled connections (<see cref="PooledHttp1Forwarder"/>); HTTP/2 clusters and
///     upgrades build an upstream request message and send it through SocketsHttpHandler (body streamed beside);
/// (3) 101 to an upgrade request: tunnel bytes both ways;
/// (4) relay: status and headers with the pipeline's edits, then the body with a pooled buffer, then trailers;
/// (5) failures are <see cref="ForwardError"/>s: the pipeline answers them if nothing was sent yet, otherwise the
///     connection or stream is aborted so that a truncated body never looks complete.
/// </summary>
internal sealed class HttpForwarder
{
    private readonly RequestMessageFactory _messages;
    private readonly PooledHttp1Forwarder? _pooled;
    private readonly ProxyServerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <param name="pool">
    /// The fast path's upstream connections: with <see cref="ProxyServerOptions.FastHttp1"/> on,
    /// exchanges with HTTP/1.1 clusters (upgrades apart) go over them (<see cref="PooledHttp1Forwarder"/>).
    /// </param>
    public HttpForwarder(ProxyServerOptions options, TimeProvider time, ILogger logger, UpstreamConnectionPool? pool = null)
    {
        _messages = new RequestMessageFactory();
        _pooled = pool is not null && options.FastHttp1 ? new PooledHttp1Forwarder(options, pool, time, logger) : null;
        _options = options;
        _time = time;
        _logger = logger;
    }

    public async ValueTask<AttemptResult> SendAsync(KestrelExchange exchange, Attempt attempt, CancellationToken token)
    {
        // (1)
        var cts = new CancellationTokenSource();
        exchange.AttemptCancellation = cts;
        exchange.Registrations[0] = token.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), cts);
        exchange.Registrations[1] = exchange.Context.RequestAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), cts);
        exchange.Registrations[2] = exchange.Deadline is { } deadline ? deadline.Token.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), cts) : default;
        exchange.Endpoint = attempt.Endpoint;

        // (2)
        var result = _pooled is not null && exchange.Upgrade is null && attempt.Cluster.Protocol == UpstreamProtocol.Http1
            ? await _pooled.SendAsync(exchange, attempt, cts)
            : await SendMessageAsync(exchange, attempt, cts);
        if (result.Outcome != AttemptEnd.Response)
        {
            EndAttempt(exchange);
        }

        return result;
    }

    public bool TryGetResponseHeader(KestrelExchange exchange, string name, out string value)
    {
        if (exchange.Upstream is { } upstream)
        {
            return upstream.Head.Fields.TryGetJoined(upstream.Buffer.AsSpan(upstream.Start, upstream.Head.Length), name, out value);
        }

        if (exchange.Response is { } response
            && (response.Headers.NonValidated.TryGetValues(name, out var values) || response.Content.Headers.NonValidated.TryGetValues(name, out values)))
        {
            value = values.ToString();
            return true;
        }

        value = string.Empty;
        return false;
    }

    /// <summary>Drops the held response: its connection is closed; a body copy still running is stopped.</summary>
    public void Discard(KestrelExchange exchange)
    {
        exchange.AttemptCancellation?.Cancel();
        exchange.Upstream?.Dispose();
        exchange.Upstream = null;
        exchange.Response?.Dispose();
        exchange.Response = null;
        EndAttempt(exchange);
    }

    public async ValueTask<ForwardError> RelayAsync(KestrelExchange exchange, ResponseEdits edits, CancellationToken token)
    {
        try
        {
            var result = exchange.Upstream is not null
                ? await _pooled!.RelayAsync(exchange, edits)
                : await RelayMessageAsync(exchange, edits);
            if (result != ForwardError.None)
            {
                ProxyLog.ForwardFailed(_logger, exchange.Endpoint?.Origin ?? string.Empty, result, null);
                await exchange.AnswerAsync(LocalReply.For(result));
            }

            return result;
        }
        finally
        {
            exchange.Response?.Dispose();
            exchange.Response = null;
            EndAttempt(exchange);
        }
    }

    private static void EndAttempt(KestrelExchange exchange)
    {
        foreach (var registration in exchange.Registrations)
        {
            registration.Dispose();
        }

        Array.Clear(exchange.Registrations);
        exchange.AttemptCancellation?.Dispose();
        exchange.AttemptCancellation = null;
    }

    /// <summary>(2) An HTTP/2 upstream or an upgrade, through SocketsHttpHandler.</summary>
    private async ValueTask<AttemptResult> SendMessageAsync(KestrelExchange exchange, Attempt attempt, CancellationTokenSource cts)
    {
        var context = exchange.Context;
        var isUpgrade = exchange.Upgrade is not null;
        var message = _messages.Create(exchange, attempt, isUpgrade, _options.CopyBufferSize, out var content);
        exchange.Content = content;
        try
        {
            exchange.Response = await attempt.Cluster.InvokerFor(attempt.Endpoint, exchange.SourceIdentity, attempt.Route.UpstreamAuthority(exchange.Request.Authority)).SendAsync(message, cts.Token);
            return AttemptResult.Responded((int)exchange.Response.StatusCode);
        }
        catch (Exception ex)
        {
            var error = await ClassifySendFailureAsync(ex, content, context, cts, exchange.Deadline);
            ProxyLog.ForwardFailed(_logger, attempt.Endpoint.Origin, error, ex);
            var refused = ex is HttpRequestException { HttpRequestError: HttpRequestError.HttpProtocolError } && ex.InnerException is HttpProtocolException { ErrorCode: 0x7 };
            var result = AttemptResult.Failed(error, requestSent: content is { Started: true } || error != ForwardError.UpstreamConnect, context.RequestAborted.IsCancellationRequested);
            return refused ? result with { Outcome = AttemptEnd.RefusedStream, RequestSent = false } : result;
        }
        finally
        {
            message.Dispose();
        }
    }

    /// <summary>(3)(4) The handler's response onto Kestrel's, or a tunnel after a 101.</summary>
    private async ValueTask<ForwardError> RelayMessageAsync(KestrelExchange exchange, ResponseEdits edits)
    {
        var context = exchange.Context;
        var response = exchange.Response!;
        var cts = exchange.AttemptCancellation!;
        var deadline = exchange.Deadline;

        // (3)
        if (exchange.Upgrade is { } upgrade && response.StatusCode == HttpStatusCode.SwitchingProtocols)
        {
            deadline?.Disarm();
            return await TunnelAsync(context, upgrade, response, edits, cts);
        }

        // (4)
        deadline?.ResponseStarted();
        ResponseCopier.CopyHeaders(response, context.Response, isUpgrade: false);
        edits.ApplyTo(context.Response.Headers);

        Stream upstreamBody;
        try
        {
            upstreamBody = await response.Content.ReadAsStreamAsync(cts.Token);
        }
        catch (Exception ex)
        {
            ProxyLog.ForwardFailed(_logger, exchange.Endpoint?.Origin ?? string.Empty, ForwardError.ResponseBodyUpstream, ex);
            return BodyFailure(StreamCopyResult.InputError, context, cts, deadline);
        }

        var output = deadline is { HasIdleTimeout: true } ? new ActivityTrackingStream(context.Response.Body, deadline) : context.Response.Body;
        var bufferSize = StreamCopier.BufferSizeFor(response.Content.Headers.ContentLength, _options.CopyBufferSize);
        var (result, copyError) = await StreamCopier.CopyAsync(upstreamBody, output, bufferSize, cts.Token);
        if (result != StreamCopyResult.Success)
        {
            ProxyLog.ForwardFailed(_logger, exchange.Endpoint?.Origin ?? string.Empty, ForwardError.ResponseBodyUpstream, copyError);
            return BodyFailure(result, context, cts, deadline);
        }

        ResponseCopier.CopyTrailers(response, context.Response);

        // A duplex (HTTP/2) request body may still be streaming after the upstream finished its
        // response; the exchange is over, so stop it rather than hold the request open.
        if (exchange.Content is { Started: true, Completion.IsCompleted: false } content)
        {
            await cts.CancelAsync();
            await content.Completion;
        }

        return ForwardError.None;
    }

    private async Task<ForwardError> TunnelAsync(
        HttpContext context, IHttpUpgradeFeature upgrade, HttpResponseMessage response, ResponseEdits edits, CancellationTokenSource cts)
    {
        Stream upstream;
        try
        {
            upstream = await response.Content.ReadAsStreamAsync(cts.Token);
        }
        catch (Exception ex)
        {
            ProxyLog.ForwardFailed(_logger, string.Empty, ForwardError.UpgradeStream, ex);
            return ForwardError.UpstreamRequest;
        }

        await using (upstream)
        {
            ResponseCopier.CopyHeaders(response, context.Response, isUpgrade: true);
            edits.ApplyTo(context.Response.Headers);
            var client = await upgrade.UpgradeAsync();

            // The route timeout bounded the handshake; a WebSocket may then live as long as both ends want.
            using var tunnel = new CancellationTokenSource();
            using var aborted = context.RequestAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), tunnel);
            var toUpstream = StreamCopier.CopyAsync(client, upstream, _options.CopyBufferSize, tunnel.Token).AsTask();
            var toClient = StreamCopier.CopyAsync(upstream, client, _options.CopyBufferSize, tunnel.Token).AsTask();
            var first = await Task.WhenAny(toUpstream, toClient);

            // Once one side has closed there is nobody left to talk to; end the other direction too.
            await tunnel.CancelAsync();
            await Task.WhenAll(toUpstream, toClient);
            return first.Result.Result == StreamCopyResult.Success ? ForwardError.None : ForwardError.UpgradeStream;
        }
    }

    /// <summary>Which side broke while the response body was copied.</summary>
    internal static ForwardError BodyFailure(StreamCopyResult result, HttpContext context, CancellationTokenSource cts, RequestDeadline? deadline) => result switch
    {
        _ when context.RequestAborted.IsCancellationRequested => ForwardError.RequestCanceled,
        StreamCopyResult.Canceled when cts.IsCancellationRequested => TimeoutReason(deadline),
        StreamCopyResult.OutputError => ForwardError.ResponseBodyClient,
        _ => ForwardError.ResponseBodyUpstream,
    };

    /// <summary>Our token fired without the client leaving: the instance deadline if it fired, else the route timeout.</summary>
    internal static ForwardError TimeoutReason(RequestDeadline? deadline) =>
        deadline?.Reason is { } reason && reason != ForwardError.None ? reason : ForwardError.UpstreamTimeout;

    /// <summary>Turns the exception SendAsync threw into the error it stands for.</summary>
    private async Task<ForwardError> ClassifySendFailureAsync(
        Exception exception, StreamingRequestContent? content, HttpContext context, CancellationTokenSource cts, RequestDeadline? deadline)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            return ForwardError.RequestCanceled;
        }

        if (content is { Started: true })
        {
            // The body copy finishes (with its outcome) before the handler gives up on the request.
            var bodyOutcome = await content.Completion.WaitAsync(TimeSpan.FromSeconds(1), _time).ContinueWith(
                static t => t.IsCompletedSuccessfully ? t.Result : ForwardError.None, TaskScheduler.Default);
            if (bodyOutcome is ForwardError.RequestBodyClient or ForwardError.RequestBodyUpstream)
            {
                return bodyOutcome;
            }
        }

        if (cts.IsCancellationRequested)
        {
            return TimeoutReason(deadline);
        }

        return exception switch
        {
            HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError } => ForwardError.UpstreamConnect,
            // ConnectTimeout elapsing surfaces as a cancellation that is not ours.
            OperationCanceledException or TimeoutException => ForwardError.UpstreamConnect,
            _ => ForwardError.UpstreamRequest,
        };
    }
}
