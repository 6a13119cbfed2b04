using Microsoft.Extensions.Logging;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Pipeline;

/// <summary>
/// Stage (7) of <see cref="RequestPipeline"/>: what is recorded of every request once it is done, the same for every
/// engine: Istio's request metrics (<see cref="ProxyTelemetry"/>) and the access log at Debug. <see cref="Begin"/> reads
/// what it needs from the request head first, while every engine still holds it.
/// </summary>
internal sealed class TelemetryStage
{
    private readonly ILogger _accessLog;
    private readonly TimeProvider _time;
    private readonly ProxyTelemetry _telemetry;

    public TelemetryStage(ILogger accessLog, TimeProvider time, ProxyTelemetry telemetry)
    {
        _accessLog = accessLog;
        _time = time;
        _telemetry = telemetry;
    }

    /// <summary>Whether <see cref="Record"/> does anything: when not, the pipeline skips the wrapper that waits for the outcome.</summary>
    public bool Enabled => _telemetry.Active || _accessLog.IsEnabled(LogLevel.Debug);

    /// <summary>Before stage (2): the request's caller and protocol, from its head.</summary>
    public void Begin(IExchange exchange, string listener)
    {
        if (_telemetry.Listener(listener) is { } telemetry && (telemetry.Metrics || telemetry.Config.Tracing is not null))
        {
            _telemetry.Begin(telemetry, exchange.Request, exchange.Telemetry);
        }
    }

    public void Record(IExchange exchange, string listener, RouteMatch match, in ExchangeOutcome outcome, long started)
    {
        var elapsed = _time.GetElapsedTime(started);
        if (_telemetry.Listener(listener) is { Metrics: true } telemetry)
        {
            _telemetry.Record(telemetry, exchange.Request, exchange.Telemetry, outcome, elapsed);
        }

        var request = exchange.Request;
        ProxyLog.AccessLog(
            _accessLog, listener, request.Method, request.Authority, request.Path, outcome.Status, outcome.Error,
            match.Route?.Name ?? string.Empty, outcome.Cluster?.Name ?? string.Empty, outcome.Endpoint?.Origin ?? string.Empty,
            elapsed.TotalMilliseconds);
    }
}
