using Trellis.Serving.Autoscaling;

namespace Trellis.Serving.Tests.Autoscaling;

public class MaxTimeWindowTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeSeconds(1_700_000_040);

    [Fact]
    public void Current_HoldsMaxOverDuration_ThenForgets()
    {
        var w = MaxTimeWindow.Create(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2));
        w = w.Record(T0, 8).Record(T0.AddSeconds(4), 3);
        Assert.Equal(8, w.Current);
        w = w.Record(T0.AddSeconds(8), 2);
        Assert.Equal(8, w.Current);
        w = w.Record(T0.AddSeconds(10), 2); // T0's bucket is now five buckets old
        Assert.Equal(3, w.Current);
    }

    [Fact]
    public void Record_SameBucket_KeepsLarger()
    {
        var w = MaxTimeWindow.Create(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2)).Record(T0, 5).Record(T0.AddSeconds(1), 1);
        Assert.Equal(5, w.Current);
    }
}
