namespace Trellis.Proxy.Resilience;

/// <summary>
/// One endpoint's outlier-detection state (Envoy's <c>DetectorHostMonitorImpl</c>): its three failure streaks and its
/// ejection. Lives on <see cref="LoadBalancing.EndpointState.Outlier"/>, so it is kept across snapshots while the
/// endpoint stays in its cluster. The streaks change lock-free on every attempt; the ejection fields change only
/// under the owning <see cref="OutlierDetector"/>'s lock and are read lock-free (<see cref="IsEjected"/> by every pick).
/// </summary>
internal sealed class OutlierState
{
    internal int Consecutive5xxCount;
    internal int ConsecutiveGatewayCount;
    internal int ConsecutiveLocalOriginCount;
    private volatile bool _ejected;

    /// <summary>Whether load balancing skips the endpoint (unless the cluster is in panic).</summary>
    public bool IsEjected => _ejected;

    public int Consecutive5xx => Volatile.Read(ref Consecutive5xxCount);

    public int ConsecutiveGatewayErrors => Volatile.Read(ref ConsecutiveGatewayCount);

    public int ConsecutiveLocalOriginFailures => Volatile.Read(ref ConsecutiveLocalOriginCount);

    /// <summary>Ejections so far (Envoy's <c>num_ejections</c>).</summary>
    public int TimesEjected { get; private set; }

    /// <summary>The ejection-time multiplier (Envoy's <c>ejectTimeBackoff</c>): up by one per ejection, down by one per
    /// healthy interval.</summary>
    public int Multiplier { get; internal set; }

    /// <summary>Monotonic time (since the detector's clock began) of the last ejection.</summary>
    public TimeSpan? EjectedAt { get; private set; }

    /// <summary>Monotonic time of the last return to service.</summary>
    public TimeSpan? ReturnedAt { get; private set; }

    internal void Eject(TimeSpan now, int multiplier)
    {
        TimesEjected++;
        Multiplier = multiplier;
        EjectedAt = now;
        _ejected = true;
    }

    internal void Return(TimeSpan now)
    {
        // Envoy resets every streak on return, so a streak left near its threshold does not eject again at once.
        Volatile.Write(ref Consecutive5xxCount, 0);
        Volatile.Write(ref ConsecutiveGatewayCount, 0);
        Volatile.Write(ref ConsecutiveLocalOriginCount, 0);
        ReturnedAt = now;
        _ejected = false;
    }
}
