namespace Trellis.Proxy.LoadBalancing;

/// <summary>
/// Envoy's slow start (<c>slow_start_config</c>, Istio's <c>warmupDurationSecs</c>): for a window after an endpoint
/// joins its cluster, its weight is scaled by <c>max(minWeightPercent / 100, timeFactor ^ (1 / aggression))</c>,
/// <c>timeFactor = max(time since it joined, 1 ms) / window</c>, with Envoy's defaults aggression 1.0 (a linear ramp)
/// and a minimum weight of 10 %. Used by round robin and least request, as in Envoy and Istio.
/// </summary>
internal sealed class SlowStart
{
    public const double DefaultAggression = 1.0;
    public const double DefaultMinWeightPercent = 10;

    private readonly TimeProvider _time;
    private readonly double _aggression;
    private readonly double _minWeight;

    public SlowStart(TimeSpan window, TimeProvider time, double aggression = DefaultAggression, double minWeightPercent = DefaultMinWeightPercent)
    {
        ArgumentNullException.ThrowIfNull(time);
        Window = window;
        _time = time;
        // Envoy treats a non-positive or NaN aggression as 1.
        _aggression = aggression > 0 ? aggression : DefaultAggression;
        _minWeight = Math.Clamp(minWeightPercent, 0, 100) / 100;
    }

    public TimeSpan Window { get; }

    /// <summary>The clock's now, as <see cref="Factor"/> takes it (one read per pick).</summary>
    public long Now() => _time.GetTimestamp();

    /// <summary>The weight factor of an endpoint that joined at <paramref name="joined"/> (a timestamp of the clock): in
    /// (0, 1) inside the window, 1 after it.</summary>
    public double Factor(long joined, long now)
    {
        var since = _time.GetElapsedTime(joined, now);
        if (since >= Window)
        {
            return 1;
        }

        var timeFactor = Math.Max(since.TotalMilliseconds, 1) / Window.TotalMilliseconds;
        var ramp = _aggression == 1 ? timeFactor : Math.Pow(timeFactor, 1 / _aggression);
        return Math.Max(ramp, _minWeight);
    }

    /// <summary>Whether some endpoint that joined at <paramref name="lastJoined"/> or before is still warming up at <paramref name="now"/>.</summary>
    public bool Warming(long lastJoined, long now) => _time.GetElapsedTime(lastJoined, now) < Window;
}
