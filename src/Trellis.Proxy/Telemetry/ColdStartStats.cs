using System.Collections.Concurrent;
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
    /// <summary>Records a cold start: from the request's arrival until its response head is about to go out.</summary>
    public void Record(string cluster, TimeSpan elapsed) =>
        _byCluster.GetOrAdd(cluster, static _ => new LatencyHistogram(HistogramBuckets.ColdStartSeconds)).Record(elapsed);

    /// <summary>Cumulative cold starts per cluster since the proxy started.</summary>
    public IReadOnlyList<ColdStartUsage> Snapshot() =>
        _byCluster.Select(kv => new ColdStartUsage(kv.Key, kv.Value.Snapshot())).OrderBy(c => c.Cluster, StringComparer.Ordinal).ToArray();
}
