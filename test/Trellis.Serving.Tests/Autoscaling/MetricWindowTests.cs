using Trellis.Serving.Autoscaling;

namespace Trellis.Serving.Tests.Autoscaling;

public class MetricWindowTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeSeconds(1_700_000_040);
    private static readonly TimeSpan Minute = TimeSpan.FromSeconds(60);

    private static MetricWindow Fill(MetricWindow w, double value, int fromSecond, int toSecond)
    {
        for (var s = fromSecond; s <= toSecond; s++)
        {
            w = w.Record(T0.AddSeconds(s), value);
        }

        return w;
    }

    [Fact]
    public void Average_FullWindow_IsMeanOfBuckets()
    {
        var w = Fill(MetricWindow.Empty(Minute), 10, 0, 29);
        w = Fill(w, 20, 30, 59);
        Assert.Equal(15, w.Average(T0.AddSeconds(59), Minute));
    }

    [Fact]
    public void Average_PartialWindow_AveragesOnlyMeasuredSeconds()
    {
        // A fresh revision measured for 6 s averages over those 6 s, not over 60.
        var w = Fill(MetricWindow.Empty(Minute), 12, 0, 5);
        Assert.Equal(12, w.Average(T0.AddSeconds(5), Minute));
    }

    [Fact]
    public void Average_GapInsideWindow_CountsAsZero()
    {
        var w = Fill(MetricWindow.Empty(Minute), 10, 0, 9);
        w = Fill(w, 10, 20, 29); // 10..19 missing
        Assert.Equal(20.0 * 10 / 30, w.Average(T0.AddSeconds(29), Minute), 5);
    }

    [Fact]
    public void Average_SamplesStopped_WindowEndsAtLastWrite()
    {
        var w = Fill(MetricWindow.Empty(Minute), 10, 0, 59);
        // 10 s later: the 10 oldest seconds left the window; the remaining 50 s all held 10.
        Assert.Equal(10, w.Average(T0.AddSeconds(69), Minute));
        Assert.False(w.IsEmpty(T0.AddSeconds(69), Minute));
    }

    [Fact]
    public void Average_NothingForAWindow_IsZeroAndEmpty()
    {
        var w = Fill(MetricWindow.Empty(Minute), 10, 0, 5);
        Assert.Equal(0, w.Average(T0.AddSeconds(66), Minute));
        Assert.True(w.IsEmpty(T0.AddSeconds(66), Minute));
        Assert.True(MetricWindow.Empty(Minute).IsEmpty(T0, Minute));
    }

    [Fact]
    public void Record_SameSecond_AddsUp()
    {
        // Two instances each reporting 5 in the same second make a revision total of 10.
        var w = MetricWindow.Empty(Minute).Record(T0, 5).Record(T0.AddMilliseconds(500), 5);
        Assert.Equal(10, w.Average(T0, Minute));
    }

    [Fact]
    public void Average_PanicWindow_UsesOnlyItsSeconds()
    {
        var w = Fill(MetricWindow.Empty(Minute), 0, 0, 53);
        w = Fill(w, 60, 54, 59);
        Assert.Equal(6, w.Average(T0.AddSeconds(59), Minute));
        Assert.Equal(60, w.Average(T0.AddSeconds(59), TimeSpan.FromSeconds(6)));
    }

    [Fact]
    public void Record_AfterGapOfAWindow_RestartsThePartialWindow()
    {
        var w = Fill(MetricWindow.Empty(Minute), 100, 0, 9);
        w = Fill(w, 4, 100, 103);
        Assert.Equal(4, w.Average(T0.AddSeconds(103), Minute));
    }

    [Fact]
    public void Record_OlderThanRetention_IsIgnored()
    {
        var w = MetricWindow.Empty(Minute).Record(T0.AddSeconds(100), 1);
        Assert.Same(w, w.Record(T0.AddSeconds(40), 50));
    }

    [Fact]
    public void Record_Immutable_OriginalUnchanged()
    {
        var empty = MetricWindow.Empty(Minute);
        _ = empty.Record(T0, 5);
        Assert.Null(empty.LastWrite);
    }
}
