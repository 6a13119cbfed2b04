using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;

namespace Trellis.Proxy.Resilience;

/// <summary>
/// A cluster's passive health checking (Istio <c>outlierDetection</c>, Envoy's consecutive-error outlier detection),
/// for one compiled snapshot. <see cref="Record"/> takes every attempt's outcome: the endpoint's streaks grow or end
/// lock-free, and a streak that reaches its threshold ejects the endpoint then and there (Envoy ejects inline, not
/// at the interval) if <see cref="OutlierRules.MayEject"/> allows, for <see cref="OutlierRules.EjectionDuration"/>.
/// Every <see cref="OutlierDetectionConfig.Interval"/> a review (<see cref="Review"/>, on a timer of the injected
/// clock) returns the endpoints whose time is up and takes one off the multiplier of those serving for an interval.
/// <para>Endpoint state lives on the endpoints (<see cref="EndpointState.Outlier"/>), so it survives snapshots; the
/// detector of the next snapshot is made with <see cref="Create"/>, which retires this one: its timer stops, and a
/// streak that trips on it later (a request still in flight on the old snapshot) is judged by its successor.
/// Dispose the last one when the proxy stops.</para>
/// <para>Load balancing reads <see cref="OutlierState.IsEjected"/> and <see cref="EjectedCount"/>; the cluster's
/// <see cref="OutlierDetectionConfig.MinHealthPercent"/> is its panic threshold (see <see cref="EndpointPicker"/>).</para>
/// </summary>
internal sealed class OutlierDetector : IDisposable
{
    private readonly Lock _gate = new();
    private readonly HashSet<EndpointState> _members;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly TimeSpan _interval;
    private OutlierDetector? _successor;
    private int _ejectedCount;
    private bool _disposed;

    private OutlierDetector(OutlierDetectionConfig config, EndpointState[] endpoints, TimeProvider time)
    {
        Config = config;
        Endpoints = endpoints;
        _members = new HashSet<EndpointState>(endpoints, ReferenceEqualityComparer.Instance);
        _time = time;
        foreach (var endpoint in endpoints)
        {
            _ejectedCount += endpoint.Outlier.IsEjected ? 1 : 0;
        }

        // Envoy's interval timer, re-armed after each review as Envoy's is (so reviews never overlap); a zero or
        // negative interval (a hand-written snapshot) reviews every millisecond.
        _interval = config.Interval > TimeSpan.Zero ? config.Interval : TimeSpan.FromMilliseconds(1);
        _timer = time.CreateTimer(static state => ((OutlierDetector)state!).OnTimer(), this, _interval, Timeout.InfiniteTimeSpan);
    }

    public OutlierDetectionConfig Config { get; }

    public EndpointState[] Endpoints { get; }

    /// <summary>Endpoints of this cluster ejected now; 0 lets pickers skip looking at each one.</summary>
    public int EjectedCount => Volatile.Read(ref _ejectedCount);

    /// <summary>The cluster's panic threshold (Istio maps <c>minHealthPercent</c> to Envoy's <c>healthy_panic_threshold</c>).</summary>
    public int MinHealthPercent => Config.MinHealthPercent;

    /// <summary>The detector of a cluster in a new snapshot; <paramref name="previous"/> (the cluster's detector in the
    /// snapshot being replaced) is retired and hands late ejections to it.</summary>
    public static OutlierDetector Create(OutlierDetectionConfig config, EndpointState[] endpoints, OutlierDetector? previous, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(time);
        if (previous is null)
        {
            return new OutlierDetector(config, endpoints, time);
        }

        // Under the previous lock: an ejection it makes is either counted by the new detector or handed to it.
        lock (previous._gate)
        {
            var next = new OutlierDetector(config, endpoints, time);
            previous._successor = next;
            previous._timer.Dispose();
            return next;
        }
    }

    /// <summary>
    /// Counts one attempt's outcome against <paramref name="endpoint"/> (Envoy's <c>putHttpResponseCode</c> and
    /// <c>putResult</c>); ejects it when a streak reaches its threshold. Lock-free unless it ejects.
    /// </summary>
    public void Record(EndpointState endpoint, in AttemptOutcome outcome)
    {
        var config = Config;
        var state = endpoint.Outlier;
        var sample = OutlierRules.Classify(outcome, config.SplitExternalLocalOriginErrors);
        if (sample.LocalOrigin is LocalOriginEffect.Success or LocalOriginEffect.SuccessThenFailure)
        {
            EndStreak(ref state.ConsecutiveLocalOriginCount);
        }

        if (sample.LocalOrigin is LocalOriginEffect.Failure or LocalOriginEffect.SuccessThenFailure
            && OutlierRules.Trips(Interlocked.Increment(ref state.ConsecutiveLocalOriginCount), config.ConsecutiveLocalOriginFailures))
        {
            Resolve().TryEject(endpoint, ref state.ConsecutiveLocalOriginCount);
        }

        if (sample.Status == 0)
        {
            return;
        }

        if (!OutlierRules.Is5xx(sample.Status))
        {
            EndStreak(ref state.Consecutive5xxCount);
            EndStreak(ref state.ConsecutiveGatewayCount);
            return;
        }

        if (!OutlierRules.IsGatewayError(sample.Status))
        {
            EndStreak(ref state.ConsecutiveGatewayCount);
        }
        else if (OutlierRules.Trips(Interlocked.Increment(ref state.ConsecutiveGatewayCount), config.ConsecutiveGatewayErrors))
        {
            Resolve().TryEject(endpoint, ref state.ConsecutiveGatewayCount);
        }

        if (OutlierRules.Trips(Interlocked.Increment(ref state.Consecutive5xxCount), config.Consecutive5xxErrors))
        {
            Resolve().TryEject(endpoint, ref state.Consecutive5xxCount);
        }
    }

    /// <summary>The interval review (Envoy's <c>onIntervalTimer</c>): endpoints whose ejection time is up return, and a
    /// serving endpoint back for at least an interval has its multiplier lowered by one. Called by the timer.</summary>
    public void Review()
    {
        lock (_gate)
        {
            if (_successor is not null)
            {
                return;
            }

            var now = Now();
            foreach (var endpoint in Endpoints)
            {
                var state = endpoint.Outlier;
                if (state.IsEjected && OutlierRules.ShouldReturn(state.EjectedAt!.Value, state.Multiplier, Config, now))
                {
                    state.Return(now);
                    _ejectedCount--;
                }
            }

            // After the returns, as Envoy's timer does: one just returned is not yet an interval back.
            foreach (var endpoint in Endpoints)
            {
                var state = endpoint.Outlier;
                if (!state.IsEjected && OutlierRules.ShouldDecay(state.Multiplier, state.ReturnedAt, Config, now))
                {
                    state.Multiplier--;
                }
            }
        }
    }

    /// <summary>The endpoint's state for display; <c>EjectedUntil</c> on the injected wall clock.</summary>
    public OutlierStatus Status(EndpointState endpoint)
    {
        lock (_gate)
        {
            var state = endpoint.Outlier;
            DateTimeOffset? until = null;
            if (state.IsEjected)
            {
                var remaining = state.EjectedAt!.Value + OutlierRules.EjectionDuration(state.Multiplier, Config) - Now();
                until = _time.GetUtcNow() + remaining;
            }

            return new OutlierStatus(
                state.IsEjected,
                until,
                state.TimesEjected,
                state.Multiplier,
                state.Consecutive5xx,
                state.ConsecutiveGatewayErrors,
                state.ConsecutiveLocalOriginFailures);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _timer.Dispose();
        }
    }

    private void OnTimer()
    {
        Review();
        lock (_gate)
        {
            if (!_disposed && _successor is null)
            {
                _timer.Change(_interval, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private static void EndStreak(ref int streak)
    {
        // Read first: a success on a healthy endpoint then writes nothing, so the cache line stays shared.
        if (Volatile.Read(ref streak) != 0)
        {
            Volatile.Write(ref streak, 0);
        }
    }

    private OutlierDetector Resolve()
    {
        var current = this;
        while (Volatile.Read(ref current._successor) is { } next)
        {
            current = next;
        }

        return current;
    }

    private void TryEject(EndpointState endpoint, ref int streak)
    {
        lock (_gate)
        {
            if (_successor is not null)
            {
                // Retired between Resolve and the lock: the newest detector judges.
                Resolve().TryEject(endpoint, ref streak);
                return;
            }

            // Removed from the cluster, or already ejected: nothing to do, and the streak stays (Envoy returns early).
            if (!_members.Contains(endpoint) || endpoint.Outlier.IsEjected)
            {
                return;
            }

            if (OutlierRules.MayEject(_ejectedCount, Endpoints.Length, Config.MaxEjectionPercent))
            {
                var state = endpoint.Outlier;
                state.Eject(Now(), OutlierRules.MultiplierAfterEjection(state.Multiplier, Config));
                _ejectedCount++;
            }

            // Detected, ejected or not: the streak starts over, so the next bout of errors is seen as one.
            Volatile.Write(ref streak, 0);
        }
    }

    private TimeSpan Now() => _time.GetElapsedTime(0, _time.GetTimestamp());
}
