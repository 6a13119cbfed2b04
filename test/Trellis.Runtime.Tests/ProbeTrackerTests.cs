namespace Trellis.Runtime.Tests;

public class ProbeTrackerTests
{
    private static ProbeSpec Probe(int failures, int successes) =>
        new(ProbeKind.Tcp, null, TimeSpan.Zero, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), failures, successes);

    public static TheoryData<int, int, string, string> Cases => new()
    {
        // failure threshold, success threshold, results (+ ok, - fail), readiness after each
        { 3, 1, "+", "R" },
        { 3, 1, "--+", "__R" },
        { 3, 2, "+-++", "___R" },
        { 3, 1, "+--", "RRR" },
        { 3, 1, "+---", "RRR_" },
        { 3, 1, "+--+---", "RRRRRR_" },
        { 1, 1, "+-+", "R_R" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Record_Table_AppliesThresholds(int failureThreshold, int successThreshold, string results, string expected)
    {
        var tracker = new ProbeTracker(Probe(failureThreshold, successThreshold));

        var readiness = string.Concat(results.Select(r =>
        {
            tracker.Record(r == '+');
            return tracker.Ready ? 'R' : '_';
        }));

        Assert.Equal(expected, readiness);
    }

    [Fact]
    public void Record_ReadinessChanges_ReturnsTrueOnlyOnChange()
    {
        var tracker = new ProbeTracker(Probe(2, 1));

        Assert.Equal([false, true, false, false, true], new[] { false, true, true, false, false }.Select(tracker.Record).ToArray());
    }

    [Fact]
    public void NextDelay_BeforeFirstReady_IsFastThenPeriod()
    {
        var tracker = new ProbeTracker(Probe(1, 1));
        Assert.Equal(ProbeTracker.FastPeriod, tracker.NextDelay);
        tracker.Record(false);
        Assert.Equal(ProbeTracker.FastPeriod, tracker.NextDelay);

        tracker.Record(true);
        Assert.Equal(TimeSpan.FromSeconds(10), tracker.NextDelay);

        // Losing readiness does not go back to fast polling: the instance is known to start.
        tracker.Record(false);
        Assert.Equal(TimeSpan.FromSeconds(10), tracker.NextDelay);
    }
}
