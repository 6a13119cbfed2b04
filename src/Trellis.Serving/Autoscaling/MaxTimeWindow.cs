using System.Collections.Immutable;

namespace Trellis.Serving.Autoscaling;

/// <summary>
/// The largest value recorded over the last <see cref="Duration"/>, in buckets of <see cref="Granularity"/>; Knative's
/// <c>max.TimeWindow</c> (<c>pkg/autoscaler/aggregation/max/timewindow.go</c>), used to hold a scale for the
/// scale-down delay. Two values in the same bucket keep the larger. Immutable.
/// </summary>
public sealed record MaxTimeWindow
{
    private readonly ImmutableList<(long Index, int Value)> _entries;

    private MaxTimeWindow(TimeSpan duration, TimeSpan granularity, ImmutableList<(long Index, int Value)> entries)
    {
        Duration = duration;
        Granularity = granularity;
        _entries = entries;
    }

    public TimeSpan Duration { get; }

    public TimeSpan Granularity { get; }

    public static MaxTimeWindow Create(TimeSpan duration, TimeSpan granularity) =>
        new(duration, granularity, []);

    public MaxTimeWindow Record(DateTimeOffset now, int value)
    {
        var granularity = Math.Max(1L, (long)Granularity.TotalSeconds);
        var index = now.ToUnixTimeSeconds() / granularity;
        var buckets = (long)Math.Ceiling(Duration.TotalSeconds / granularity);
        var kept = _entries.RemoveAll(e => e.Index <= index - buckets);
        var existing = kept.FindIndex(e => e.Index == index);
        kept = existing >= 0
            ? kept.SetItem(existing, (index, Math.Max(kept[existing].Value, value)))
            : kept.Add((index, value));
        return new MaxTimeWindow(Duration, Granularity, kept);
    }

    /// <summary>The maximum over the window, as of the newest record; 0 when nothing was recorded.</summary>
    public int Current => _entries.IsEmpty ? 0 : _entries.Max(e => e.Value);
}
