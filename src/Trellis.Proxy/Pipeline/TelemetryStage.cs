using Microsoft.Extensions.Logging;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Pipeline;

/// <summary>
/// Stage (7) of <see cref="RequestPipeline"/>: what is recorded of every request once it is done, the same for every
/// engine. Today the access log at Debug; Istio's request metrics, spans and the configurable access log plug in
/// here, from the <see cref="ExchangeOutcome"/> (status, error, response flags, cluster, endpoint) and the request.
/// </summary>
internal sealed class TelemetryStage
{
    private readonly ILogger _accessLog;
    private readonly TimeProvider _time;

    public TelemetryStage(ILogger accessLog, TimeProvider time)
    {
        _accessLog = accessLog;
        _time = time;
    }

    /// <summary>Whether <see cref="Record"/> does anything: when not, the pipeline skips the wrapper that waits for the outcome.</summary>
    public bool Enabled => _accessLog.IsEnabled(LogLevel.Debug);

    public void Record(IExchange exchange, string listener, RouteMatch match, in ExchangeOutcome outcome, long started)
    {
        var request = exchange.Request;
        ProxyLog.AccessLog(
            _accessLog, listener, request.Method, request.Authority, request.Path, outcome.Status, outcome.Error,
            match.Route?.Name ?? string.Empty, outcome.Cluster?.Name ?? string.Empty, outcome.Endpoint?.Origin ?? string.Empty,
            _time.GetElapsedTime(started).TotalMilliseconds);
    }
}
