using System.Net;
using System.Net.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Http1;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Serving;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Forwarding;

/// <summary>
/// Forwards one request to one chosen endpoint and streams the answer back. Steps:
/// (1) one cancellation source per request: the route timeout, and the client going away;
/// (2) build and send the upstream request (body streamed concurrently by the handler);
/// (3) 101 to an upgrade request: tunnel bytes both ways;
/// (4) copy status and headers, then the body with a pooled buffer, then trailers;
/// (5) any failure is a <see cref="ForwardError"/>: an error response if nothing was sent yet,
///     otherwise an aborted connection/stream so a truncated body never looks complete.
/// A revision instance's <see cref="RequestDeadline"/>, when given, cancels like the route timeout
/// and is told when the response starts and when bytes go out.
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
        _messages = new RequestMessageFactory(options);
        _pooled = pool is not null && options.FastHttp1 ? new PooledHttp1Forwarder(options, pool, time, logger) : null;
        _options = options;
        _time = time;
        _logger = logger;
    }

    public async Task<ForwardError> ForwardAsync(
        HttpContext context, CompiledRoute route, CompiledMatch? matched, ClusterState cluster, EndpointState endpoint,
        RequestDeadline? deadline = null)
    {
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        var isUpgrade = upgrade is { IsUpgradableRequest: true };

        // (1) The timeout runs on the injected TimeProvider; aborting the client cancels the upstream call.
        using var cts = route.Timeout is { } timeout ? new CancellationTokenSource(timeout, _time) : new CancellationTokenSource();
        using var abortRegistration = context.RequestAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), cts);
        using var deadlineRegistration = deadline is null ? default : deadline.Token.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), cts);

        endpoint.RequestStarted();
        if (_pooled is not null && !isUpgrade && cluster.Protocol == UpstreamProtocol.Http1)
        {
            try
            {
                return await _pooled.ForwardAsync(context, route, matched, endpoint, cts, deadline);
            }
            finally
            {
                endpoint.RequestEnded();
            }
        }

        HttpResponseMessage? response = null;
        StreamingRequestContent? content = null;
        try
        {
            // (2)
            using var message = _messages.Create(context, route, matched, cluster, endpoint, isUpgrade, out content);
            try
            {
                response = await cluster.Invoker.SendAsync(message, cts.Token);
            }
            catch (Exception ex)
            {
                var error = await ClassifySendFailureAsync(ex, content, context, cts, deadline);
                return await FailAsync(context, endpoint, error, ex);
            }

            // (3)
            if (isUpgrade && response.StatusCode == HttpStatusCode.SwitchingProtocols)
            {
                deadline?.Disarm();
                return await TunnelAsync(context, upgrade!, response, route, cts);
            }

            // (4)
            deadline?.ResponseStarted();
            ResponseCopier.CopyHeaders(response, context.Response, isUpgrade: false);
            route.ResponseHeaders?.ApplyTo(context.Response.Headers);

            Stream upstreamBody;
            try
            {
                upstreamBody = await response.Content.ReadAsStreamAsync(cts.Token);
            }
            catch (Exception ex)
            {
                return await FailAsync(context, endpoint, BodyFailure(StreamCopyResult.InputError, context, cts, deadline), ex);
            }

            var output = deadline is { HasIdleTimeout: true } ? new ActivityTrackingStream(context.Response.Body, deadline) : context.Response.Body;
            var bufferSize = StreamCopier.BufferSizeFor(response.Content.Headers.ContentLength, _options.CopyBufferSize);
            var (result, copyError) = await StreamCopier.CopyAsync(upstreamBody, output, bufferSize, cts.Token);
            if (result != StreamCopyResult.Success)
            {
                return await FailAsync(context, endpoint, BodyFailure(result, context, cts, deadline), copyError);
            }

            ResponseCopier.CopyTrailers(response, context.Response);

            // A duplex (HTTP/2) request body may still be streaming after the upstream finished its
            // response; the exchange is over, so stop it rather than hold the request open.
            if (content is { Started: true, Completion.IsCompleted: false })
            {
                await cts.CancelAsync();
                await content.Completion;
            }

            return ForwardError.None;
        }
        finally
        {
            endpoint.RequestEnded();
            response?.Dispose();
        }
    }

    private async Task<ForwardError> TunnelAsync(
        HttpContext context, IHttpUpgradeFeature upgrade, HttpResponseMessage response, CompiledRoute route, CancellationTokenSource cts)
    {
        // The route timeout bounds the handshake; a WebSocket may then live as long as both ends want.
        cts.CancelAfter(Timeout.InfiniteTimeSpan);
        Stream upstream;
        try
        {
            upstream = await response.Content.ReadAsStreamAsync(cts.Token);
        }
        catch (Exception ex)
        {
            ProxyLog.ForwardFailed(_logger, route.Name, ForwardError.UpgradeStream, ex);
            return await Fail(context, ForwardError.UpstreamRequest);
        }

        await using (upstream)
        {
            ResponseCopier.CopyHeaders(response, context.Response, isUpgrade: true);
            route.ResponseHeaders?.ApplyTo(context.Response.Headers);
            var client = await upgrade.UpgradeAsync();

            var toUpstream = StreamCopier.CopyAsync(client, upstream, _options.CopyBufferSize, cts.Token).AsTask();
            var toClient = StreamCopier.CopyAsync(upstream, client, _options.CopyBufferSize, cts.Token).AsTask();
            var first = await Task.WhenAny(toUpstream, toClient);

            // Once one side has closed there is nobody left to talk to; end the other direction too.
            await cts.CancelAsync();
            await Task.WhenAll(toUpstream, toClient);
            return first.Result.Result == StreamCopyResult.Success ? ForwardError.None : ForwardError.UpgradeStream;
        }
    }

    private async Task<ForwardError> FailAsync(HttpContext context, EndpointState endpoint, ForwardError error, Exception? exception)
    {
        ProxyLog.ForwardFailed(_logger, endpoint.Origin, error, exception);
        return await Fail(context, error);
    }

    private static async Task<ForwardError> Fail(HttpContext context, ForwardError error)
    {
        await ForwardErrorResponses.WriteAsync(context, error);
        return error;
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
