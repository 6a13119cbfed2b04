using Trellis.Api.Metering;

namespace Trellis.Proxy.Telemetry;

/// <summary>Live counters of one listener; updates are lock-free.</summary>
internal sealed class ListenerStats
{
    /// <summary>In-flight requests over time and requests started, for <see cref="ProxyServer.SampleLoad"/>.</summary>
    public ConcurrencyTracker Load { get; } = new();

    /// <summary>Completed requests by duration (request start to response end), for metering.</summary>
    public LatencyHistogram Durations { get; } = new(HistogramBuckets.RequestDurationSeconds);

    /// <summary>End of the last load sample (the listener's start before the first); written by the sampler only.</summary>
    public DateTimeOffset SampledUntil { get; set; }

    /// <summary><see cref="Durations"/> as of the last usage sample; read and written by the sampler only.</summary>
    public HistogramCounts? DurationsSampled { get; set; }

    public long Requests => Load.Requests;

    /// <summary>The per-request bookkeeping of a request that takes no time (what the counter benchmark measures).</summary>
    public void RequestReceived()
    {
        Load.RequestStarted(0);
        RequestCompleted(0, TimeSpan.Zero);
    }

    /// <summary>A request ended at <paramref name="nowMicros"/> after <paramref name="elapsed"/>.</summary>
    public void RequestCompleted(long nowMicros, TimeSpan elapsed)
    {
        Load.RequestEnded(nowMicros);
        Durations.Record(elapsed);
    }
}
