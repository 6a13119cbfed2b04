using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Resilience;

/// <summary>How an attempt's outcome counts toward the failure streaks of outlier detection.</summary>
/// <param name="Status">The HTTP status to count as the upstream's answer (5xx and gateway-error streaks; any other
/// status ends both), or 0 when the outcome counts as no answer.</param>
/// <param name="LocalOrigin">The effect on the local-origin streak (only with <c>splitExternalLocalOriginErrors</c>).</param>
internal readonly record struct OutlierSample(int Status, LocalOriginEffect LocalOrigin);

internal enum LocalOriginEffect : byte
{
    None,
    /// <summary>A connection was obtained: the streak ends.</summary>
    Success,
    /// <summary>No connection: the streak grows.</summary>
    Failure,
    /// <summary>A connection was obtained, then the attempt failed locally (reset, per-try timeout): the streak ends,
    /// then grows by one, as Envoy reports <c>LOCAL_ORIGIN_CONNECT_SUCCESS</c> at pool-ready and the failure after.</summary>
    SuccessThenFailure,
}

/// <summary>
/// The rules of Envoy's consecutive-error outlier detection (<c>source/common/upstream/outlier_detection_impl.cc</c>),
/// as pure functions of counters, config and time; <see cref="OutlierDetector"/> applies them.
/// </summary>
internal static class OutlierRules
{
    /// <summary>Envoy's default <c>max_ejection_time</c> (Istio sets none); the base ejection time when that is longer.</summary>
    public static readonly TimeSpan DefaultMaxEjectionTime = TimeSpan.FromSeconds(300);

    /// <summary>
    /// What an outcome counts as. Without the split, local failures count as the status Envoy maps them to
    /// (<c>resultToHttpCode</c>: a connect failure or reset as 503, a timeout as 504), so they feed the 5xx and
    /// gateway-error streaks. With it, they feed only the local-origin streak, and answers only the other two.
    /// </summary>
    public static OutlierSample Classify(in AttemptOutcome outcome, bool splitLocalOrigin)
    {
        if (!splitLocalOrigin)
        {
            return outcome.Failure switch
            {
                AttemptFailure.None => new(outcome.Status, LocalOriginEffect.None),
                AttemptFailure.PerTryTimeout => new(504, LocalOriginEffect.None),
                _ => new(503, LocalOriginEffect.None),
            };
        }

        return outcome.Failure switch
        {
            AttemptFailure.None => new(outcome.Status, LocalOriginEffect.Success),
            AttemptFailure.ConnectFailure => new(0, LocalOriginEffect.Failure),
            _ => new(0, LocalOriginEffect.SuccessThenFailure),
        };
    }

    public static bool Is5xx(int status) => status is >= 500 and <= 599;

    /// <summary>Envoy's <c>isGatewayError</c>.</summary>
    public static bool IsGatewayError(int status) => status is 502 or 503 or 504;

    /// <summary>A streak trips its detection when it reaches the threshold exactly (Envoy compares with <c>==</c>, so a
    /// streak already past it, on an endpoint that stayed ejected, does not trip again); 0 disables.</summary>
    public static bool Trips(int streakAfterIncrement, int threshold) => threshold > 0 && streakAfterIncrement == threshold;

    /// <summary>
    /// Whether one more endpoint may be ejected: the share ejected, counting it, stays within
    /// <paramref name="maxEjectionPercent"/>, or (Trellis's rule, Envoy's <c>always_eject_one_host</c>) none is
    /// ejected yet, so that a small cluster can eject its one bad endpoint whatever the percentage.
    /// </summary>
    public static bool MayEject(int ejected, int total, int maxEjectionPercent) =>
        total > 0 && (ejected == 0 || 100.0 * (ejected + 1) / total <= Math.Min(100, maxEjectionPercent));

    /// <summary>The longest ejection: Envoy's default 300 s, or the base ejection time when that is longer.</summary>
    public static TimeSpan MaxEjectionTime(OutlierDetectionConfig config) =>
        config.BaseEjectionTime > DefaultMaxEjectionTime ? config.BaseEjectionTime : DefaultMaxEjectionTime;

    /// <summary>How long an ejection lasts: <c>min(base × multiplier, max)</c>.</summary>
    public static TimeSpan EjectionDuration(int multiplier, OutlierDetectionConfig config)
    {
        var max = MaxEjectionTime(config);
        var ticks = (double)config.BaseEjectionTime.Ticks * multiplier;
        return ticks >= max.Ticks ? max : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>The multiplier after an ejection: one more, until <c>base × multiplier</c> reaches <c>max + base</c>
    /// (Envoy's cap, so the duration itself stops at the max).</summary>
    public static int MultiplierAfterEjection(int multiplier, OutlierDetectionConfig config)
    {
        var max = MaxEjectionTime(config);
        return (double)config.BaseEjectionTime.Ticks * multiplier < max.Ticks + config.BaseEjectionTime.Ticks ? multiplier + 1 : multiplier;
    }

    /// <summary>At a review: whether an ejected endpoint's time is up (<c>ejectedAt + duration ≤ now</c>).</summary>
    public static bool ShouldReturn(TimeSpan ejectedAt, int multiplier, OutlierDetectionConfig config, TimeSpan now) =>
        ejectedAt + EjectionDuration(multiplier, config) <= now;

    /// <summary>At a review: whether a serving endpoint's multiplier shrinks by one — it has been back for at least an
    /// interval (Envoy decrements at every review while that holds, so each healthy interval takes one off).</summary>
    public static bool ShouldDecay(int multiplier, TimeSpan? returnedAt, OutlierDetectionConfig config, TimeSpan now) =>
        multiplier > 0 && returnedAt is { } back && now - back >= config.Interval;
}
