namespace Trellis.Proxy.Telemetry;

/// <summary>Live counters of one listener; updates are lock-free.</summary>
internal sealed class ListenerStats
{
    /// <summary>In-flight requests over time and requests started, for <see cref="ProxyServer.SampleLoad"/>.</summary>
    public ConcurrencyTracker Load { get; } = new();

    /// <summary>End of the last load sample (the listener's start before the first); written by the sampler only.</summary>
    public DateTimeOffset SampledUntil { get; set; }

    public long Requests => Load.Requests;

    /// <summary>The per-request bookkeeping of a request that takes no time (what the counter benchmark measures).</summary>
    public void RequestReceived()
    {
        Load.RequestStarted(0);
        Load.RequestEnded(0);
    }
}
