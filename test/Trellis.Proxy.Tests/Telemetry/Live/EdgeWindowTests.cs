using Trellis.Api.LiveViews;
using Trellis.Proxy.Telemetry.Live;

namespace Trellis.Proxy.Tests.Telemetry.Live;

public sealed class EdgeWindowTests
{
    private static (long Requests, long[] Counters) Read(EdgeWindow window, long now, int seconds)
    {
        var counters = new long[EdgeWindow.Stride];
        return (window.Read(now, seconds, counters), counters);
    }

    [Fact]
    public void Read_CountsTheWholeSecondsBeforeAndTheCurrentOne()
    {
        var window = new EdgeWindow();
        window.Record(100, 3, success: true, mutualTls: false); // 10 s before now: outside a 9 s window, inside 10 s
        window.Record(101, 3, success: true, mutualTls: true);
        window.Record(110, 5, success: false, mutualTls: true);
        window.Record(110, 5, success: true, mutualTls: false);

        Assert.Equal(2, Read(window, 110, 1).Requests);
        Assert.Equal(3, Read(window, 110, 9).Requests);
        var (requests, counters) = Read(window, 110, 10);
        Assert.Equal(4, requests);
        Assert.Equal(2, counters[3]);
        Assert.Equal(2, counters[5]);
        Assert.Equal(3, EdgeWindow.SuccessesOf(counters));
        Assert.Equal(2, EdgeWindow.MutualTlsOf(counters));
    }

    [Fact]
    public void Record_SlotReusedAfterTheRingTurns_OldCountsGone()
    {
        var window = new EdgeWindow();
        window.Record(5, 1, true, false);
        window.Record(5 + EdgeWindow.Slots, 2, true, false); // the same slot, one turn later

        var (requests, counters) = Read(window, 5 + EdgeWindow.Slots, 1);
        Assert.Equal(1, requests);
        Assert.Equal(0, counters[1]);
        Assert.Equal(1, counters[2]);
    }

    [Fact]
    public void Record_LateForASlotAlreadyReused_Dropped()
    {
        var window = new EdgeWindow();
        window.Record(5 + EdgeWindow.Slots, 2, true, false);
        window.Record(5, 1, true, false); // a request counted a whole turn late must not land in the newer second

        Assert.Equal(1, Read(window, 5 + EdgeWindow.Slots, 1).Requests);
    }

    [Fact]
    public void Read_StaleSlotsInsideTheRange_NotCounted()
    {
        var window = new EdgeWindow();
        window.Record(10, 0, true, false);

        // 70 s later the slot of second 10 is the slot of second 74, which held nothing: a 60 s window sees nothing.
        Assert.Equal(0, Read(window, 80, EdgeWindow.MaxWindowSeconds).Requests);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(EdgeWindow.MaxWindowSeconds + 1)]
    public void Read_WindowOutOfRange_Throws(int seconds)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Read(new EdgeWindow(), 100, seconds));
    }

    [Fact]
    public async Task Record_ManyThreads_NothingLostWithinASecond()
    {
        var window = new EdgeWindow();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                window.Record(42, i % LatencyBuckets.Count, success: i % 2 == 0, mutualTls: false);
            }
        })));

        var (requests, counters) = Read(window, 42, 1);
        Assert.Equal(40_000, requests);
        Assert.Equal(20_000, EdgeWindow.SuccessesOf(counters));
    }

    [Fact]
    public void MaxWindow_LeavesSlotsTheWriterMayBeClearing()
    {
        // A read spans MaxWindowSeconds + 1 slots; the ring must hold more, so a writer's next second is never among them.
        Assert.True(EdgeWindow.MaxWindowSeconds + 1 < EdgeWindow.Slots);
        Assert.Equal(LiveWindow.MaxSeconds, EdgeWindow.MaxWindowSeconds);
    }
}
