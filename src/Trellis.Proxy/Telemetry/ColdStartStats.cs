using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Metering;

namespace Trellis.Proxy.Telemetry;

/// <summary>
/// Cold starts seen by one proxy, by cluster: requests that waited in the activator for a cluster
/// with no endpoint and were then forwarded, timed from their arrival to the first response byte
/// (when the response headers go out). Only requests that waited pay for this; the hot path never
/// touches it.
/// </summary>
internal sealed class ColdStartStats
{
    private readonly ConcurrentDictionary<string, LatencyHistogram> _byCluster = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public ColdStartStats(TimeProvider time) => _time = time;

    /// <summary>Records the request's cold start when its response starts (never, if it does not).</summary>
    public void Track(HttpContext context, string cluster, long arrivedTimestamp)
    {
        var histogram = _byCluster.GetOrAdd(cluster, static _ => new LatencyHistogram(HistogramBuckets.ColdStartSeconds));
        context.Response.OnStarting(() =>
        {
            histogram.Record(_time.GetElapsedTime(arrivedTimestamp));
            return Task.CompletedTask;
        });
    }

    /// <summary>Cumulative cold starts per cluster since the proxy started.</summary>
    public IReadOnlyList<ColdStartUsage> Snapshot() =>
        _byCluster.Select(kv => new ColdStartUsage(kv.Key, kv.Value.Snapshot())).OrderBy(c => c.Cluster, StringComparer.Ordinal).ToArray();
}
