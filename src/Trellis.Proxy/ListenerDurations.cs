using Trellis.Api.Metering;

namespace Trellis.Proxy;

/// <summary>
/// Requests one listener completed between two calls of <see cref="ProxyServer.SampleDurations"/>,
/// by duration (request start to response end).
/// </summary>
/// <param name="Listener">The listener's name.</param>
/// <param name="Workload">The workload instance it belongs to (from its config; may be empty).</param>
public sealed record ListenerDurations(string Listener, string Workload, HistogramCounts Durations);
