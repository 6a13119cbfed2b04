using Microsoft.Extensions.Logging;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry;
using Trellis.Proxy.Telemetry.AccessLogs;
using Trellis.Proxy.Telemetry.Tracing;

namespace Trellis.Proxy.Pipeline;

/// <summary>
/// Stage (7) of <see cref="RequestPipeline"/>: what is recorded of every request once it is done, the same for every
/// engine: Istio's request metrics (<see cref="ProxyTelemetry"/>), the access logs the Telemetry API or the mesh
/// configuration asks for (handed to their writers, never written on the request's thread), and the Debug line.
/// <see cref="Begin"/> reads what it needs from the request head first, while every engine still holds it.
/// </summary>
internal sealed class TelemetryStage
{
    private readonly ILogger _accessLog;
    private readonly TimeProvider _time;
    private readonly ProxyTelemetry _telemetry;

    private readonly string _node;

    public TelemetryStage(ILogger accessLog, TimeProvider time, ProxyTelemetry telemetry, string node = "")
    {
        _accessLog = accessLog;
        _time = time;
        _telemetry = telemetry;
        _node = node;
    }

    /// <summary>The inbound-policy stage's counters, served with the proxy's metrics.</summary>
    public Security.AuthorizationStats AuthorizationStats => _telemetry.Authorization;

    /// <summary>Whether <see cref="Record"/> does anything: when not, the pipeline skips the wrapper that waits for the outcome.</summary>
    public bool Enabled => _telemetry.Active || _accessLog.IsEnabled(LogLevel.Debug);

    /// <summary>Before stage (2): the request's caller, protocol, trace context and logged fields, from its head.</summary>
    public void Begin(IExchange exchange, string listener)
    {
        exchange.Telemetry.MutualTlsPeer = exchange.Peer;
        if (_telemetry.Listener(listener) is { Active: true } telemetry)
        {
            _telemetry.Begin(telemetry, exchange.Request, exchange.Telemetry);
            if (telemetry.Spans is not null && exchange.Telemetry.Trace.Sampled)
            {
                exchange.Telemetry.Span = ProxySpans.Begin(telemetry, telemetry.SelfLabels, exchange.Request, exchange.Scheme, exchange.Telemetry, _time.GetUtcNow(), _node);
            }
        }
    }

    public void Record(IExchange exchange, string listener, RouteMatch match, in ExchangeOutcome outcome, long started)
    {
        var now = _time.GetTimestamp();
        var elapsed = _time.GetElapsedTime(started, now);
        var telemetry = _telemetry.Listener(listener);
        if (telemetry is { Metrics: true })
        {
            _telemetry.Record(telemetry, exchange.Request, exchange.Telemetry, outcome, elapsed, now);
        }

        if (exchange.Telemetry.Span is { } span)
        {
            exchange.Telemetry.Span = null;
            ProxySpans.End(span, exchange.Telemetry, outcome, elapsed, _telemetry.SpanName(telemetry!, exchange.Request, outcome), exchange.ClientAddress);
        }

        if (telemetry is { AccessLogs.Length: > 0 } && exchange.Telemetry.LogFields is { } fields)
        {
            WriteAccessLogs(telemetry, exchange, match, outcome, elapsed, fields);
        }

        var request = exchange.Request;
        ProxyLog.AccessLog(
            _accessLog, listener, request.Method, request.Authority, request.Path, outcome.Status, outcome.Error,
            match.Route?.Name ?? string.Empty, outcome.Cluster?.Name ?? string.Empty, outcome.Endpoint?.Origin ?? string.Empty,
            elapsed.TotalMilliseconds);
    }

    /// <summary>One entry for every access log of the listener whose filter the request passes; the writers format it.</summary>
    private void WriteAccessLogs(
        ListenerTelemetry telemetry, IExchange exchange, RouteMatch match, in ExchangeOutcome outcome, TimeSpan elapsed, Dictionary<string, string> fields)
    {
        var counted = exchange.Telemetry;
        var entry = new AccessLogEntry(
            _time.GetUtcNow() - elapsed, ProtocolOf(exchange), outcome.Status, outcome.Flags, counted.RequestBytes, counted.ResponseBytes, elapsed, fields,
            UpstreamHost: outcome.Endpoint is { } endpoint ? $"{endpoint.Address}:{endpoint.Port}" : null, UpstreamCluster: outcome.Cluster?.Name, DownstreamLocal: $"{telemetry.Address}:{exchange.Request.LocalPort}",
            DownstreamRemote: exchange.ClientAddress is { Length: > 0 } client ? client : null, Route: match.Route?.Name,
            TraceId: counted.Trace.IsValid ? counted.Trace.TraceIdText() : null, Details: Details(outcome), Audited: counted.Audited);
        foreach (var log in telemetry.AccessLogs)
        {
            if (log.Filter is null || log.Filter.Matches(entry))
            {
                log.Writer.TryWrite(log.Format, entry, log.Tail);
            }
        }
    }

    /// <summary>Envoy's <c>%PROTOCOL%</c>: the engine that served the request knows it.</summary>
    private static string ProtocolOf(IExchange exchange) => exchange switch
    {
        Http2.Http2Stream => "HTTP/2",
        Listeners.KestrelExchange kestrel => kestrel.Context.Request.Protocol,
        _ => "HTTP/1.1",
    };

    /// <summary>Envoy's <c>%RESPONSE_CODE_DETAILS%</c> for the outcomes the pipeline tells apart.</summary>
    private static string? Details(in ExchangeOutcome outcome) => outcome.Error switch
    {
        ForwardError.None => outcome.Endpoint is null ? null : "via_upstream",
        ForwardError.NoRoute => "route_not_found",
        ForwardError.NoHealthyUpstream => "no_healthy_upstream",
        ForwardError.UpstreamConnect => "upstream_reset_before_response_started{connection_failure}",
        ForwardError.UpstreamRequest => "upstream_reset_before_response_started{remote_reset}",
        ForwardError.UpstreamTimeout => "response_timeout",
        ForwardError.RequestCanceled or ForwardError.RequestBodyClient or ForwardError.ResponseBodyClient => "downstream_remote_disconnect",
        ForwardError.ResponseBodyUpstream => "upstream_reset_after_response_started{remote_reset}",
        _ => outcome.Error.ToString(),
    };
}
