using System.Text;
using Trellis.Eventing.Storage;

namespace Trellis.Eventing.Tests.Storage;

public sealed class FileEventLogTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-eventlog-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static ReadOnlyMemory<byte> Bytes(string s) => Encoding.UTF8.GetBytes(s);

    private static string Text(StoredEvent e) => Encoding.UTF8.GetString(e.Payload.Span);

    [Fact]
    public async Task Append_ThenRead_GivesGapFreeSequencesInOrder()
    {
        await using var log = FileEventLog.Open("t", _dir);
        Assert.Equal(1, await log.AppendAsync([Bytes("a")]));
        Assert.Equal(2, await log.AppendAsync([Bytes("b"), Bytes("c")]));

        var events = await log.ReadAsync(1, 10);
        Assert.Equal([1L, 2, 3], events.Select(e => e.Sequence));
        Assert.Equal(["a", "b", "c"], events.Select(Text));
        Assert.Equal(4, log.NextSequence);
    }

    [Fact]
    public async Task Append_Concurrent_SharesFsyncs()
    {
        await using var log = FileEventLog.Open("t", _dir);
        var appends = Enumerable.Range(0, 2000).Select(i => log.AppendAsync([Bytes($"e{i}")]).AsTask()).ToArray();
        var sequences = await Task.WhenAll(appends);

        Assert.Equal(Enumerable.Range(1, 2000).Select(i => (long)i), sequences.Order());
        Assert.True(log.Commits < 2000, $"{log.Commits} fsyncs for 2000 appends: no group commit");
    }

    /// <summary>
    /// Past the 32 MiB memory cache (and its compaction, and a 64 MiB segment roll): reads behind the cache come
    /// from the files, reads inside it from memory, each starting at exactly the asked sequence.
    /// </summary>
    [Fact]
    public async Task Read_AnywhereAfterTheCacheEvictedAndCompacted_GivesTheAskedEvents()
    {
        await using var log = FileEventLog.Open("t", _dir);
        const int Count = 17_000, Chunk = 500;
        var pad = new string('x', 4000);
        for (var first = 1; first <= Count; first += Chunk)
        {
            await log.AppendAsync([.. Enumerable.Range(first, Math.Min(Chunk, Count - first + 1)).Select(i => Bytes($"{i}:{pad}"))]);
        }

        foreach (var from in new long[] { 1, 4_000, 8_500, 12_000, 16_990, Count })
        {
            var events = await log.ReadAsync(from, 20);
            Assert.Equal(Enumerable.Range((int)from, (int)Math.Min(20, Count - from + 1)).Select(i => (long)i), events.Select(e => e.Sequence));
            Assert.All(events, e => Assert.StartsWith($"{e.Sequence}:", Text(e), StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Reopen_KeepsEventsAndPositions_ReadsBehindTheCacheFromDisk()
    {
        await using (var log = FileEventLog.Open("t", _dir))
        {
            Assert.Equal(1, await log.GetPositionAsync("trigger-a"));
            await log.AppendAsync([Bytes("a"), Bytes("b"), Bytes("c")]);
            await log.SetPositionAsync("trigger-a", 3);
        }

        await using var reopened = FileEventLog.Open("t", _dir);
        Assert.Equal(4, reopened.NextSequence);
        Assert.Equal(3, await reopened.GetPositionAsync("trigger-a"));
        Assert.Equal(["b", "c"], (await reopened.ReadAsync(2, 10)).Select(Text));
        Assert.Equal(4, await reopened.AppendAsync([Bytes("d")]));
    }

    [Fact]
    public async Task Open_TornTail_IsCutOff()
    {
        await using (var log = FileEventLog.Open("t", _dir))
        {
            await log.AppendAsync([Bytes("a"), Bytes("b")]);
        }

        var segment = Directory.GetFiles(_dir, "*.log").Single();
        var whole = new FileInfo(segment).Length;
        await using (var file = new FileStream(segment, FileMode.Append))
        {
            // Half a record: a length that promises more than follows, as a crash mid-write leaves it.
            file.Write([200, 0, 0, 0, 1, 2, 3]);
        }

        await using (var log = FileEventLog.Open("t", _dir))
        {
            Assert.Equal(3, log.NextSequence);
            Assert.Equal(3, await log.AppendAsync([Bytes("c")]));
            Assert.Equal(["a", "b", "c"], (await log.ReadAsync(1, 10)).Select(Text));
        }

        Assert.True(new FileInfo(segment).Length > whole);
    }

    [Fact]
    public async Task Open_CorruptLastRecord_IsCutOff()
    {
        await using (var log = FileEventLog.Open("t", _dir))
        {
            await log.AppendAsync([Bytes("a"), Bytes("bbbb")]);
        }

        var segment = Directory.GetFiles(_dir, "*.log").Single();
        var bytes = File.ReadAllBytes(segment);
        bytes[^1] ^= 0xff;
        File.WriteAllBytes(segment, bytes);

        await using var reopened = FileEventLog.Open("t", _dir);
        Assert.Equal(2, reopened.NextSequence);
        Assert.Equal(["a"], (await reopened.ReadAsync(1, 10)).Select(Text));
    }

    [Fact]
    public async Task Read_AtTheEnd_WaitsForTheNextAppend()
    {
        await using var log = FileEventLog.Open("t", _dir);
        var read = log.ReadAsync(1, 10).AsTask();
        Assert.False(read.IsCompleted);

        await log.AppendAsync([Bytes("late")]);
        var events = await read.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("late", Text(Assert.Single(events)));
    }

    [Fact]
    public async Task NewConsumer_StartsAtTheEnd()
    {
        await using var log = FileEventLog.Open("t", _dir);
        await log.AppendAsync([Bytes("before")]);

        Assert.Equal(2, await log.GetPositionAsync("late-trigger"));
        await log.SetPositionAsync("late-trigger", 1);
        Assert.Equal(2, await log.GetPositionAsync("late-trigger"));
    }
}
