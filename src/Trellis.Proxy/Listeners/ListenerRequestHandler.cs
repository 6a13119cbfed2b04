using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Serving;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// The request delegate of one listener: read the current snapshot once, apply the listener's
/// revision-instance limits if it has them (Knative's queue-proxy: timeouts, then the concurrency
/// breaker), route, then redirect, answer an error, or forward. Everything a request uses comes from
/// that one snapshot, except that a request held for an activation cluster is released into the
/// snapshot that brought the cluster its endpoints.
/// </summary>
internal sealed class ListenerRequestHandler
{
    private readonly string _listenerName;
    private readonly SnapshotHolder _snapshots;
    private readonly HttpForwarder _forwarder;
    private readonly ListenerStats _stats;
    private readonly ILogger _accessLog;
    private readonly TimeProvider _time;
    private readonly Func<int, int> _random;
    private readonly ActivationQueues? _activation;
    private readonly ILogger? _servingLog;
    private readonly ColdStartStats? _coldStarts;

    public ListenerRequestHandler(
        string listenerName, SnapshotHolder snapshots, HttpForwarder forwarder, ListenerStats stats,
        ILogger accessLog, TimeProvider time, Func<int, int> random, ActivationQueues? activation = null, ILogger? servingLog = null,
        ColdStartStats? coldStarts = null)
    {
        _coldStarts = coldStarts;
        _listenerName = listenerName;
        _snapshots = snapshots;
        _forwarder = forwarder;
        _stats = stats;
        _accessLog = accessLog;
        _time = time;
        _random = random;
        _activation = activation;
        _servingLog = servingLog;
    }

    public async Task HandleAsync(HttpContext context)
    {
        var started = _time.GetTimestamp();
        _stats.Load.RequestStarted(ConcurrencyTracker.ToMicros(_time, started));

        var snapshot = _snapshots.Current;
        var error = ForwardError.None;
        string cluster = string.Empty, upstream = string.Empty;
        CompiledRoute? route = null;
        RequestDeadline? deadline = null;
        InstanceBreaker? heldSlot = null;
        EndpointState? activatorSlot = null;
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
                        error = admission == Admission.QueueFull ? ForwardError.InstanceOverloaded : CancellationReason(context, deadline);
                        if (error == ForwardError.InstanceOverloaded && _servingLog is not null)
                        {
                            ProxyLog.InstanceOverloaded(_servingLog, _listenerName, breaker.Capacity, breaker.QueueDepth);
                        }

                        await ForwardErrorResponses.WriteAsync(context, error);
                        return;
                    }

                    heldSlot = breaker;
                }
            }

            var match = snapshot.RouteTablesByListener.TryGetValue(_listenerName, out var table)
                ? table.Match(RouteRequest.From(context))
                : default;
            route = match.Route;
            if (route is null)
            {
                error = ForwardError.NoRoute;
                await ForwardErrorResponses.WriteAsync(context, error);
            }
            else if (route.Redirect is { } redirect)
            {
                var request = context.Request;
                context.Response.StatusCode = redirect.StatusCode;
                context.Response.Headers.Location = RedirectBuilder.Location(
                    redirect, request.Scheme, request.Headers.Host.ToString(), request.Path.Value ?? "/", request.QueryString.Value);
            }
            else
            {
                var picked = route.PickCluster(_random);
                var endpoint = picked.NextEndpoint();
                if (endpoint is null && picked.Activation is { } activation && _activation is not null)
                {
                    // Waiting for an instance to start is a cold start; waiting for a free slot is not.
                    var cold = picked.Endpoints.Length == 0;
                    (picked, endpoint, error) = await ActivateAsync(context, picked, activation);
                    if (endpoint is not null && cold)
                    {
                        _coldStarts?.Track(context, picked.Name, started);
                    }
                }

                activatorSlot = endpoint is not null && picked.EndpointCapacity > 0 ? endpoint : null;
                cluster = picked.Name;
                if (endpoint is not null)
                {
                    upstream = endpoint.Origin;
                    error = await _forwarder.ForwardAsync(context, route, match.Matched, picked, endpoint, deadline);
                }
                else if (error == ForwardError.None)
                {
                    error = ForwardError.NoHealthyUpstream;
                    await ForwardErrorResponses.WriteAsync(context, error);
                }
            }
        }
        finally
        {
            heldSlot?.Release();
            if (activatorSlot is not null)
            {
                activatorSlot.ReturnSlot();
                _activation?.SlotReturned(cluster);
            }

            deadline?.Dispose();
            var ended = _time.GetTimestamp();
            _stats.RequestCompleted(ConcurrencyTracker.ToMicros(_time, ended), _time.GetElapsedTime(started, ended));
            if (_accessLog.IsEnabled(LogLevel.Debug))
            {
                var request = context.Request;
                ProxyLog.AccessLog(
                    _accessLog, _listenerName, request.Method, request.Headers.Host.ToString(), request.Path.Value ?? string.Empty,
                    context.Response.StatusCode, error, route?.Name ?? string.Empty, cluster, upstream,
                    _time.GetElapsedTime(started).TotalMilliseconds);
            }
        }
    }

    /// <summary>
    /// The activator: the picked cluster has no endpoint, so wait (bounded) until a snapshot gives
    /// it one, then pick from the cluster as that snapshot compiled it. The request body has not
    /// been touched, so nothing needs buffering. Failures are answered here and returned as values.
    /// </summary>
    private async Task<(ClusterState Cluster, EndpointState? Endpoint, ForwardError Error)> ActivateAsync(
        HttpContext context, ClusterState cluster, ActivationConfig activation)
    {
        var queue = _activation!.For(cluster.Name);
        var waitStarted = _time.GetTimestamp();
        while (true)
        {
            var remaining = activation.Timeout - _time.GetElapsedTime(waitStarted);
            var outcome = remaining > TimeSpan.Zero
                ? await queue.WaitAsync(activation.QueueCapacity, remaining, context.RequestAborted)
                : ActivationOutcome.TimedOut;
            switch (outcome)
            {
                case ActivationOutcome.Ready:
                    if (_snapshots.Current.Clusters.TryGetValue(cluster.Name, out var current)
                        && current.NextEndpoint() is { } endpoint)
                    {
                        return (current, endpoint, ForwardError.None);
                    }

                    // The endpoints went away again before we looked (another push), or another request took
                    // the freed slot first; wait on with the time left.
                    continue;
                case ActivationOutcome.QueueFull:
                    if (_servingLog is not null)
                    {
                        ProxyLog.ActivationQueueFull(_servingLog, cluster.Name, activation.QueueCapacity);
                    }

                    await ForwardErrorResponses.WriteAsync(
                        context, ForwardError.ActivationQueueFull, StatusCodes.Status503ServiceUnavailable,
                        Encoding.UTF8.GetBytes($"activator: queue full for {cluster.Name}"));
                    return (cluster, null, ForwardError.ActivationQueueFull);
                case ActivationOutcome.TimedOut:
                    if (_servingLog is not null)
                    {
                        ProxyLog.ActivationTimedOut(_servingLog, cluster.Name, activation.Timeout);
                    }

                    await ForwardErrorResponses.WriteAsync(
                        context, ForwardError.ActivationTimeout, StatusCodes.Status503ServiceUnavailable,
                        Encoding.UTF8.GetBytes(_snapshots.Current.Clusters.TryGetValue(cluster.Name, out var now) && now.Endpoints.Length > 0
                            ? $"activator: no instance had a free slot (containerConcurrency {now.EndpointCapacity}) within {Format(activation.Timeout)} for {cluster.Name}"
                            : $"activator: no instance became ready within {Format(activation.Timeout)} for {cluster.Name}"));
                    return (cluster, null, ForwardError.ActivationTimeout);
                default:
                    await ForwardErrorResponses.WriteAsync(context, ForwardError.RequestCanceled);
                    return (cluster, null, ForwardError.RequestCanceled);
            }
        }
    }

    private static ForwardError CancellationReason(HttpContext context, RequestDeadline? deadline) =>
        context.RequestAborted.IsCancellationRequested || deadline is null || deadline.Reason == ForwardError.None
            ? ForwardError.RequestCanceled
            : deadline.Reason;

    /// <summary>10s, 1.5s, 250ms: how a Knative user writes durations.</summary>
    private static string Format(TimeSpan timeout) => timeout.TotalSeconds >= 1
        ? timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s"
        : timeout.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + "ms";
}
