using System.Globalization;
using System.Text;
using System.Threading.Channels;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Trellis.Eventing.Storage.JetStream;
using Trellis.Runtime.Tests;

namespace Trellis.Eventing.Tests.Storage;

/// <summary>
/// Group commit on JetStream without a server: a fake publish holds each acknowledgement until the test
/// gives it, so what shares a message and when each append completes is decided by the test, not by timing.
/// </summary>
public sealed class JetStreamAppenderTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly Channel<Publish> _publishes = Channel.CreateUnbounded<Publish>();
    private readonly ManualTimeProvider _time = new();
    private JetStreamAppender _appender = null!;

    public Task InitializeAsync()
    {
        _appender = new JetStreamAppender(PublishAsync, (_, _) => Task.CompletedTask, Limit, _time);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        // Every publish still held is answered, so that disposing (which waits for them) ends.
        while (_publishes.Reader.TryRead(out var held))
        {
            held.Fail();
        }

        var disposing = _appender.DisposeAsync().AsTask();
        while (!disposing.IsCompleted)
        {
            if (await Task.WhenAny(disposing, _publishes.Reader.WaitToReadAsync().AsTask()) != disposing && _publishes.Reader.TryRead(out var late))
            {
                late.Fail();
            }
        }

        await disposing;
    }

    [Fact]
    public async Task Append_WhileEverySlotAwaitsItsAck_QueuedAppendsShareTheNextMessage()
    {
        var first = new List<Task<long>>();
        var held = new List<Publish>();
        for (var i = 0; i < JetStreamAppender.MaxInFlight; i++)
        {
            first.Add(_appender.AppendAsync([Bytes($"a{i}")], default).AsTask());
            held.Add(await NextPublishAsync());
        }

        var queued = Enumerable.Range(0, 10).Select(i => _appender.AppendAsync([Bytes($"b{i}")], default).AsTask()).ToList();
        Assert.False(_publishes.Reader.TryRead(out _)); // no slot: nothing more is published yet
        held[0].Ack(1);
        Assert.Equal(JetStreamSequence.Compose(1, 0), await first[0].WaitAsync(Deadline));

        var shared = await NextPublishAsync();
        Assert.Equal("10", shared.Headers?[AppendFrame.CountHeader].ToString());
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"b{i}"), AppendFrame.Unpack(shared.Data, "10")!.Select(m => Encoding.UTF8.GetString(m.Span)));
        Assert.All(queued, q => Assert.False(q.IsCompleted)); // not before its own message is acknowledged
        shared.Ack(5);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => JetStreamSequence.Compose(5, i)), await Task.WhenAll(queued).WaitAsync(Deadline));
        Assert.All(first.Skip(1), a => Assert.False(a.IsCompleted));
        for (var i = 1; i < held.Count; i++)
        {
            held[i].Ack((ulong)i + 1);
        }

        Assert.Equal(Enumerable.Range(1, 3).Select(i => JetStreamSequence.Compose((ulong)i + 1, 0)), await Task.WhenAll(first.Skip(1)).WaitAsync(Deadline));
    }

    [Fact]
    public async Task Append_ABatchOfSeveralEvents_StaysWholeInOneMessage()
    {
        var append = _appender.AppendAsync([Bytes("x"), Bytes("y"), Bytes("z")], default).AsTask();
        var publish = await NextPublishAsync();
        Assert.Equal("3", publish.Headers?[AppendFrame.CountHeader].ToString());
        publish.Ack(9);
        Assert.Equal(JetStreamSequence.Compose(9, 0), await append.WaitAsync(Deadline));
    }

    [Fact]
    public async Task Append_ALoneEvent_IsPublishedAsItIs()
    {
        var append = _appender.AppendAsync([Bytes("alone")], default).AsTask();
        var publish = await NextPublishAsync();
        Assert.Null(publish.Headers);
        Assert.Equal("alone", Encoding.UTF8.GetString(publish.Data.Span));
        publish.Ack(3);
        await append.WaitAsync(Deadline);
    }

    [Fact]
    public async Task Append_PublishFails_FailsOnlyTheAppendsOfThatMessage()
    {
        var failing = _appender.AppendAsync([Bytes("a")], default).AsTask();
        var failed = await NextPublishAsync();
        var other = _appender.AppendAsync([Bytes("b")], default).AsTask();
        var succeeded = await NextPublishAsync();

        failed.Fail();
        succeeded.Ack(2);
        await Assert.ThrowsAsync<IOException>(() => failing.WaitAsync(Deadline));
        Assert.Equal(JetStreamSequence.Compose(2, 0), await other.WaitAsync(Deadline));
    }

    [Fact]
    public async Task Append_NoAcknowledgementWithinTheLimit_IsAnIOException()
    {
        var append = _appender.AppendAsync([Bytes("a")], default).AsTask();
        var publish = await NextPublishAsync();
        _time.Advance(Limit + TimeSpan.FromSeconds(1));

        await Assert.ThrowsAsync<IOException>(() => append.WaitAsync(Deadline));
        Assert.True(publish.Cancellation.IsCancellationRequested); // the publish itself is given up too
    }

    [Fact]
    public async Task Append_QueuedAppendsLargerThanAMessage_AreSplit()
    {
        var held = new List<Publish>();
        for (var i = 0; i < JetStreamAppender.MaxInFlight; i++)
        {
            _ = _appender.AppendAsync([Bytes($"a{i}")], default).AsTask();
            held.Add(await NextPublishAsync());
        }

        var big = new byte[(JetStreamAppender.MaxMessageBytes / 2) + 1];
        var queued = Enumerable.Range(0, 2).Select(_ => _appender.AppendAsync([big], default).AsTask()).ToList();
        held[0].Ack(1);
        var one = await NextPublishAsync();
        held[1].Ack(2);
        var two = await NextPublishAsync();
        Assert.Equal(big.Length, one.Data.Length);
        Assert.Equal(big.Length, two.Data.Length);
        one.Ack(5);
        two.Ack(6);
        Assert.Equal([JetStreamSequence.Compose(5, 0), JetStreamSequence.Compose(6, 0)], await Task.WhenAll(queued).WaitAsync(Deadline));
        for (var i = 2; i < held.Count; i++)
        {
            held[i].Ack((ulong)i + 1);
        }
    }

    private async Task<Publish> NextPublishAsync() => await _publishes.Reader.ReadAsync().AsTask().WaitAsync(Deadline);

    private ValueTask<PubAckResponse> PublishAsync(ReadOnlyMemory<byte> data, NatsHeaders? headers, CancellationToken cancellationToken)
    {
        var publish = new Publish(data, headers, cancellationToken);
        _publishes.Writer.TryWrite(publish);
        return new ValueTask<PubAckResponse>(publish.Answer.Task.WaitAsync(cancellationToken));
    }

    private static ReadOnlyMemory<byte> Bytes(string s) => Encoding.UTF8.GetBytes(s);

    private sealed record Publish(ReadOnlyMemory<byte> Data, NatsHeaders? Headers, CancellationToken Cancellation)
    {
        public TaskCompletionSource<PubAckResponse> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Ack(ulong sequence) => Answer.TrySetResult(new PubAckResponse { Stream = "s", Seq = sequence });

        public void Fail() => Answer.TrySetException(new NatsException("no responders " + Data.Length.ToString(CultureInfo.InvariantCulture)));
    }
}
