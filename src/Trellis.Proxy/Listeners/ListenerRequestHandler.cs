using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// The request delegate of one listener: read the current snapshot once, route, then redirect,
/// answer an error, or forward. Everything a request uses comes from that one snapshot.
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

    public ListenerRequestHandler(
        string listenerName, SnapshotHolder snapshots, HttpForwarder forwarder, ListenerStats stats,
        ILogger accessLog, TimeProvider time, Func<int, int> random)
    {
        _listenerName = listenerName;
        _snapshots = snapshots;
        _forwarder = forwarder;
        _stats = stats;
        _accessLog = accessLog;
        _time = time;
        _random = random;
    }

    public async Task HandleAsync(HttpContext context)
    {
        var started = _time.GetTimestamp();
        _stats.RequestReceived();

        var snapshot = _snapshots.Current;
        var match = snapshot.RouteTablesByListener.TryGetValue(_listenerName, out var table)
            ? table.Match(RouteRequest.From(context))
            : default;

        var error = ForwardError.None;
        string cluster = string.Empty, upstream = string.Empty;
        var route = match.Route;
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
            cluster = picked.Name;
            var endpoint = picked.PickEndpoint();
            if (endpoint is null)
            {
                error = ForwardError.NoHealthyUpstream;
                await ForwardErrorResponses.WriteAsync(context, error);
            }
            else
            {
                upstream = endpoint.Origin;
                error = await _forwarder.ForwardAsync(context, route, match.Matched, picked, endpoint);
            }
        }

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
