using Trellis.Proxy.Telemetry.Live;

namespace Trellis.Proxy.Tests.Telemetry.Live;

public sealed class RecordRingTests
{
    [Fact]
    public void Read_FromCursor_RecordsInOrderAndNextCursor()
    {
        var ring = new RecordRing<string>(4);
        ring.Append("a");
        ring.Append("b");
        ring.Append("c");

        var items = new List<string>();
        var next = ring.Read(1, items, out var first);

        Assert.Equal(["b", "c"], items);
        Assert.Equal(1, first);
        Assert.Equal(3, next);
        items.Clear();
        Assert.Equal(3, ring.Read(next, items, out _));
        Assert.Empty(items);
    }

    [Fact]
    public void Read_FollowerFellBehind_OldestGoneAndCounted()
    {
        var ring = new RecordRing<string>(3);
        foreach (var s in new[] { "a", "b", "c", "d", "e" })
        {
            ring.Append(s);
        }

        var items = new List<string>();
        var next = ring.Read(0, items, out var first);

        Assert.Equal(["c", "d", "e"], items);
        Assert.Equal(2, first); // a and b were missed
        Assert.Equal(5, next);
        Assert.Equal(5, ring.Next);
    }

    [Fact]
    public async Task WaitAsync_CompletesOnAppend()
    {
        var ring = new RecordRing<string>(2);
        var waiting = ring.WaitAsync(0, CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        ring.Append("x");

        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(ring.WaitAsync(0, CancellationToken.None).IsCompleted); // a record at the cursor exists already
    }

    [Fact]
    public async Task WaitAsync_Canceled_Throws()
    {
        var ring = new RecordRing<string>(2);
        using var cancel = new CancellationTokenSource();
        var waiting = ring.WaitAsync(0, cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }
}
