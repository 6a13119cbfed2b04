namespace Trellis.Api.Metering;

/// <summary>
/// The fixed upper bounds (seconds, ascending; +Inf implied) of the metering histograms. Fixed so
/// that every proxy's counts add up bucket by bucket and the Prometheus series never change shape.
/// Request durations start below a millisecond (a local function answers in ~0.3 ms); cold starts
/// run from tens of milliseconds (a pre-warmed process) to a minute (a slow runtime).
/// </summary>
public static class HistogramBuckets
{
    public static readonly IReadOnlyList<double> RequestDurationSeconds =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

    public static readonly IReadOnlyList<double> ColdStartSeconds =
        [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
}
