namespace Trellis.Runtime;

/// <summary>
/// Turns a stream of probe results into readiness, with Kubernetes' thresholds, and says when to
/// probe next. Until the instance has been ready once it probes every <see cref="FastPeriod"/>
/// instead of the probe's period: a cold start should become routable within milliseconds of
/// listening, not a period later. 5 ms: a pooled start is ready ~20-60 ms after it is specialized,
/// so a 15 ms interval cost a quarter of the pool's 50 ms budget on average; a refused TCP connect
/// on loopback costs microseconds.
/// </summary>
internal sealed class ProbeTracker(ProbeSpec probe)
{
    public static readonly TimeSpan FastPeriod = TimeSpan.FromMilliseconds(5);

    private int successes;
    private int failures;
    private bool everReady;

    public bool Ready { get; private set; }

    public TimeSpan NextDelay => everReady ? probe.Period : FastPeriod;

    /// <summary>Records one result; returns true when <see cref="Ready"/> changed.</summary>
    public bool Record(bool success)
    {
        if (success)
        {
            successes++;
            failures = 0;
            if (!Ready && successes >= Math.Max(1, probe.SuccessThreshold))
            {
                Ready = true;
                everReady = true;
                return true;
            }
        }
        else
        {
            failures++;
            successes = 0;
            if (Ready && failures >= Math.Max(1, probe.FailureThreshold))
            {
                Ready = false;
                return true;
            }
        }

        return false;
    }
}
