using System.Text;
using Trellis.Eventing.Storage;

namespace Trellis.Eventing.Tests.Storage;

/// <summary>
/// What every <see cref="IEventStore"/> promises its readers (the Trigger dispatchers, the async queue),
/// run against each implementation: the embedded file store and JetStream.
/// </summary>
public abstract class EventStoreContractTests : IAsyncLifetime
{
    protected abstract Task<IEventStore> OpenStoreAsync();

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync() => Task.CompletedTask;

    protected static ReadOnlyMemory<byte> Bytes(string s) => Encoding.UTF8.GetBytes(s);

    protected static string Text(StoredEvent e) => Encoding.UTF8.GetString(e.Payload.Span);

    /// <summary>Everything from <paramref name="from"/> below the log's end.</summary>
    protected static async Task<List<StoredEvent>> ReadAllAsync(IEventLog log, long from)
    {
        var all = new List<StoredEvent>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (from < log.NextSequence)
        {
            foreach (var stored in await log.ReadAsync(from, 100, timeout.Token))
            {
                all.Add(stored);
                from = stored.Sequence + 1;
            }
        }

        return all;
    }

    [Fact]
    public async Task Append_ThenRead_InOrderWithIncreasingSequences()
    {
        await using var store = await OpenStoreAsync();
        var log = await store.OpenAsync("broker/default/events");
        var first = await log.AppendAsync([Bytes("a")]);
        var second = await log.AppendAsync([Bytes("b"), Bytes("c")]);
        Assert.True(second > first);

        var events = await ReadAllAsync(log, first);
        Assert.Equal(["a", "b", "c"], events.Select(Text));
        Assert.Equal(events.Select(e => e.Sequence).Order(), events.Select(e => e.Sequence));
        Assert.Equal(events.Count, events.Select(e => e.Sequence).Distinct().Count());
        Assert.Equal(second, events[1].Sequence);
        Assert.True(log.NextSequence > events[^1].Sequence);
    }

    [Fact]
    public async Task Read_FromTheMiddleOfABatch_StartsThere()
    {
        await using var store = await OpenStoreAsync();
        var log = await store.OpenAsync("b");
        await log.AppendAsync([Bytes("a"), Bytes("b"), Bytes("c")]);
        var all = await ReadAllAsync(log, 1);

        Assert.Equal(["b", "c"], (await ReadAllAsync(log, all[1].Sequence)).Select(Text));
        Assert.Equal(["c"], (await log.ReadAsync(all[1].Sequence + 1, 10)).Select(Text));
    }

    [Fact]
    public async Task Append_Concurrent_EveryEventOnceWithItsOwnSequence()
    {
        await using var store = await OpenStoreAsync();
        var log = await store.OpenAsync("b");
        var start = log.NextSequence;
        var sequences = await Task.WhenAll(Enumerable.Range(0, 500).Select(i => log.AppendAsync([Bytes($"e{i}")]).AsTask()));

        Assert.Equal(500, sequences.Distinct().Count());
        var events = await ReadAllAsync(log, start);
        Assert.Equal(Enumerable.Range(0, 500).Select(i => $"e{i}").Order(), events.Select(Text).Order());
        Assert.Equal(sequences.Order(), events.Select(e => e.Sequence));
    }

    [Fact]
    public async Task Read_AtTheEnd_WaitsForTheNextAppend()
    {
        await using var store = await OpenStoreAsync();
        var log = await store.OpenAsync("b");
        var read = log.ReadAsync(log.NextSequence, 10).AsTask();
        Assert.False(read.IsCompleted);

        await log.AppendAsync([Bytes("late")]);
        var events = await read.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("late", Text(Assert.Single(events)));
    }

    [Fact]
    public async Task NewConsumer_StartsAtTheEnd_AndNeverMovesBack()
    {
        await using var store = await OpenStoreAsync();
        var log = await store.OpenAsync("b");
        await log.AppendAsync([Bytes("before")]);

        var position = await log.GetPositionAsync("late-trigger");
        Assert.Equal(log.NextSequence, position);
        await log.SetPositionAsync("late-trigger", 1);
        Assert.Equal(position, await log.GetPositionAsync("late-trigger"));
    }

    [Fact]
    public async Task Reopen_KeepsEventsAndPositions_ReadsBehindFromStorage()
    {
        long position;
        List<StoredEvent> written;
        await using (var store = await OpenStoreAsync())
        {
            var log = await store.OpenAsync("broker/ns/b");
            var first = await log.GetPositionAsync("trigger-a");
            await log.AppendAsync([Bytes("a"), Bytes("b"), Bytes("c")]);
            written = await ReadAllAsync(log, first);
            position = written[1].Sequence;
            await log.SetPositionAsync("trigger-a", position);
        }

        await using var reopened = await OpenStoreAsync();
        var again = await reopened.OpenAsync("broker/ns/b");
        Assert.Equal(position, await again.GetPositionAsync("trigger-a"));
        Assert.Equal(["b", "c"], (await ReadAllAsync(again, position)).Select(Text));
        Assert.True(await again.AppendAsync([Bytes("d")]) > written[^1].Sequence);
    }

    [Fact]
    public async Task RemovedConsumer_StartsAgainAtTheEnd()
    {
        await using var store = await OpenStoreAsync();
        var log = await store.OpenAsync("b");
        var old = await log.GetPositionAsync("t");
        await log.AppendAsync([Bytes("a")]);
        await log.RemoveConsumerAsync("t");

        Assert.True(await log.GetPositionAsync("t") > old);
    }

    [Fact]
    public async Task Delete_ForgetsEventsAndPositions()
    {
        await using var store = await OpenStoreAsync();
        var log = await store.OpenAsync("doomed");
        await log.GetPositionAsync("t");
        await log.AppendAsync([Bytes("a")]);
        await store.DeleteAsync("doomed");

        var fresh = await store.OpenAsync("doomed");
        var position = await fresh.GetPositionAsync("t");
        var next = await fresh.AppendAsync([Bytes("new")]);
        Assert.Equal(["new"], (await ReadAllAsync(fresh, position)).Select(Text));
        Assert.Equal(next, (await fresh.ReadAsync(1, 10))[0].Sequence);
    }
}

public sealed class FileEventStoreContractTests : EventStoreContractTests
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-eventstore-" + Guid.NewGuid().ToString("N"));

    protected override Task<IEventStore> OpenStoreAsync() => Task.FromResult<IEventStore>(new FileEventStore(_dir));

    public override Task DisposeAsync()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }

        return Task.CompletedTask;
    }
}
