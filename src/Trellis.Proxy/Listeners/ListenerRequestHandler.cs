using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Serving;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// The request delegate of one listener on the Kestrel path: read the current snapshot once, apply the listener's
/// revision-instance limits if it has them (Knative's queue-proxy: timeouts, then the concurrency breaker), route,
/// and run the request through <see cref="RequestPipeline"/> as a <see cref="KestrelExchange"/>, as the fast paths
/// run theirs.
/// </summary>
internal sealed class ListenerRequestHandler
{
    private readonly string _listenerName;
    private readonly RequestPipeline _pipeline;
    private readonly HttpForwarder _forwarder;
    private readonly ListenerStats _stats;
    private readonly TimeProvider _time;
    private readonly ILogger? _servingLog;
    private readonly Func<string> _requestIds;

    public ListenerRequestHandler(
        string listenerName, RequestPipeline pipeline, HttpForwarder forwarder, ListenerStats stats, TimeProvider time, Func<string> requestIds,
        ILogger? servingLog = null)
    {
        _listenerName = listenerName;
        _pipeline = pipeline;
        _forwarder = forwarder;
        _stats = stats;
        _time = time;
        _requestIds = requestIds;
        _servingLog = servingLog;
    }

    /// <summary>The SPIFFE ID of the listener's workload (its mTLS client certificate upstream); null for none.</summary>
    public string? Identity { get; init; }

    public async Task HandleAsync(HttpContext context)
    {
        if (HttpMethods.IsConnect(context.Request.Method))
        {
            // Kestrel cannot hand a request's connection over as a tunnel: a CONNECT is tunnelled only as the first
            // request of a connection (ConnectKestrel, or the fast path), as HTTP clients send it.
            context.Response.StatusCode = StatusCodes.Status501NotImplemented;
            context.Response.Headers.Connection = "close";
            await context.Response.WriteAsync("CONNECT is tunnelled only as the first request of a connection to an outbound listener");
            return;
        }

        var started = _time.GetTimestamp();
        _stats.Load.RequestStarted(ConcurrencyTracker.ToMicros(_time, started));

        var snapshot = _pipeline.Snapshots.Current;
        RequestDeadline? deadline = null;
        InstanceBreaker? heldSlot = null;
        try
        {
            // Queue-proxy duties first: queueing counts toward the timeouts, as in Knative, whose
            // timeout handler wraps the breaker.
            if (snapshot.ServingByListener.Count != 0 && snapshot.ServingByListener.TryGetValue(_listenerName, out var serving))
            {
                deadline = RequestDeadline.Start(serving.Config, _time, context.RequestAborted);
                if (serving.Breaker is { } breaker)
                {
                    var admission = await breaker.AcquireAsync(deadline?.Token ?? context.RequestAborted);
                    if (admission != Admission.Admitted)
                    {
                        var error = admission == Admission.QueueFull ? ForwardError.InstanceOverloaded : CancellationReason(context, deadline);
                        if (error == ForwardError.InstanceOverloaded && _servingLog is not null)
                        {
                            ProxyLog.InstanceOverloaded(_servingLog, _listenerName, breaker.Capacity, breaker.QueueDepth);
                        }

                        await new KestrelExchange(context, deadline, _forwarder, _requestIds) { SourceIdentity = Identity }.AnswerAsync(LocalReply.For(error));
                        return;
                    }

                    heldSlot = breaker;
                }
            }

            var exchange = new KestrelExchange(context, deadline, _forwarder, _requestIds) { SourceIdentity = Identity };
            await _pipeline.RunAsync(exchange, _listenerName, RequestPipeline.Route(snapshot, _listenerName, exchange.Request));
        }
        finally
        {
            heldSlot?.Release();
            deadline?.Dispose();
            var ended = _time.GetTimestamp();
            _stats.RequestCompleted(ConcurrencyTracker.ToMicros(_time, ended), _time.GetElapsedTime(started, ended));
        }
    }

    private static ForwardError CancellationReason(HttpContext context, RequestDeadline? deadline) =>
        context.RequestAborted.IsCancellationRequested || deadline is null || deadline.Reason == ForwardError.None
            ? ForwardError.RequestCanceled
            : deadline.Reason;
}
