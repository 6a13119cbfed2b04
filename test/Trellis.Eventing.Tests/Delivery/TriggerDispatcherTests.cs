using System.Collections.Concurrent;
using System.Text;
using CloudNative.CloudEvents;
using Trellis.Api.Eventing;
using Trellis.Eventing.CloudEvents;
using Trellis.Eventing.Delivery;
using Trellis.Eventing.Filtering;
using Trellis.Eventing.Storage;
using Trellis.Runtime.Tests;

namespace Trellis.Eventing.Tests.Delivery;

public sealed class TriggerDispatcherTests : IAsyncDisposable
{
    private static readonly DeliveryTarget Subscriber = DeliveryTarget.Direct(new Uri("http://subscriber.test/"));
    private static readonly DeliveryTarget DeadLetter = DeliveryTarget.Direct(new Uri("http://dls.test/"));
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-dispatch-" + Guid.NewGuid().ToString("N"));
    private readonly ManualTimeProvider _time = new();
    private readonly FakeSender _sender = new();
    private FileEventLog? _log;

    private FileEventLog Log => _log ??= FileEventLog.Open("b", _dir);

    public async ValueTask DisposeAsync()
    {
        if (_log is not null)
        {
            await _log.DisposeAsync();
        }

        Directory.Delete(_dir, recursive: true);
    }

    private static CloudEvent Event(string id, string type = "t") => new() { Id = id, Source = new Uri("/src", UriKind.Relative), Type = type };

    private async Task PublishAsync(params CloudEvent[] events) =>
        await Log.AppendAsync([.. events.Select(e => CloudEventHttp.Serialize(e))]);

    private TriggerRoute Route(DeliverySpec? delivery = null, EventFilter? filter = null) =>
        new("trigger", filter ?? EventFilter.All, Subscriber, delivery?.DeadLetterSink is null ? null : DeadLetter, DeliveryPolicy.From(delivery, null));

    private async Task<TriggerDispatcher> StartAsync(TriggerRoute route)
    {
        var dispatcher = new TriggerDispatcher(Log, route, _sender, _time);
        await Eventually(async () => await Log.GetPositionAsync("trigger") >= 1);
        return dispatcher;
    }

    [Fact]
    public async Task Deliver_OnlyWhatTheFilterPasses_AndAdvancesThePosition()
    {
        var (filter, _) = EventFilter.Compile(new TriggerSpec { Broker = "b", Subscriber = new EventDestination { Uri = "http://x" }, Filters = [new() { Cesql = "type = 'wanted'" }] });
        await using var dispatcher = await StartAsync(Route(filter: filter));
        await PublishAsync(Event("1", "wanted"), Event("2", "other"), Event("3", "wanted"));

        await Eventually(async () => await Log.GetPositionAsync("trigger") == 4);
        Assert.Equal(["1", "3"], _sender.Attempts.Where(a => a.Target == Subscriber).Select(a => a.Event.Id).Order());
        Assert.Equal(2, dispatcher.Counters.Delivered);
    }

    [Fact]
    public async Task FailingSubscriber_RetriesWithExponentialBackoff_ThenDeadLettersWithErrorExtensions()
    {
        _sender.Answer = (target, _) => target == Subscriber ? new AttemptResult(500, null, Encoding.UTF8.GetBytes("boom"), "text/plain", []) : Ok();
        var delivery = new DeliverySpec { Retry = 3, BackoffDelay = "PT1S", DeadLetterSink = new EventDestination { Uri = "http://dls.test/" } };
        await using var dispatcher = await StartAsync(Route(delivery));
        await PublishAsync(Event("1"));

        // Attempts at 0 s, then after 2 s, 4 s and 8 s (backoffDelay × 2^n), never earlier.
        var expectedGaps = new[] { 2, 4, 8 };
        await Eventually(() => Task.FromResult(_sender.CountTo(Subscriber) == 1));
        foreach (var gap in expectedGaps)
        {
            var before = _sender.CountTo(Subscriber);
            await Eventually(() => Task.FromResult(_time.PendingDelays().Count == 1));
            _time.Advance(TimeSpan.FromSeconds(gap) - TimeSpan.FromMilliseconds(1));
            await Task.Yield();
            Assert.Equal(before, _sender.CountTo(Subscriber));
            _time.Advance(TimeSpan.FromMilliseconds(1));
            await Eventually(() => Task.FromResult(_sender.CountTo(Subscriber) == before + 1));
        }

        await Eventually(() => Task.FromResult(_sender.CountTo(DeadLetter) == 1));
        var dead = _sender.Attempts.Single(a => a.Target == DeadLetter).Event;
        Assert.Equal("http://subscriber.test/", dead["knativeerrordest"]);
        Assert.Equal("500", dead["knativeerrorcode"]);
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes("boom")), dead["knativeerrordata"]);
        Assert.Equal(4, _sender.CountTo(Subscriber));
        Assert.Equal(3, dispatcher.Counters.Retried);
        await Eventually(async () => dispatcher.Counters.DeadLettered == 1 && await Log.GetPositionAsync("trigger") == 2);
    }

    [Fact]
    public async Task NonRetryableAnswer_GoesToTheDeadLetterSinkAtOnce()
    {
        _sender.Answer = (target, _) => target == Subscriber ? new AttemptResult(400, null, ReadOnlyMemory<byte>.Empty, null, []) : Ok();
        await using var dispatcher = await StartAsync(Route(new DeliverySpec { Retry = 5, DeadLetterSink = new EventDestination { Uri = "http://dls.test/" } }));
        await PublishAsync(Event("1"));

        await Eventually(() => Task.FromResult(dispatcher.Counters.DeadLettered == 1));
        Assert.Equal(1, _sender.CountTo(Subscriber));
    }

    [Fact]
    public async Task SlowEvent_DoesNotHoldBackTheOthers_NorLetThePositionPassIt()
    {
        var release = new TaskCompletionSource<AttemptResult>();
        _sender.AnswerAsync = (_, e) => e.Id == "slow" ? release.Task : Task.FromResult(Ok());
        await using var dispatcher = await StartAsync(Route());
        await PublishAsync(Event("slow"), Event("2"), Event("3"));

        await Eventually(() => Task.FromResult(dispatcher.Counters.Delivered == 2));
        Assert.Equal(1, await Log.GetPositionAsync("trigger"));

        release.SetResult(Ok());
        await Eventually(async () => await Log.GetPositionAsync("trigger") == 4);
    }

    [Fact]
    public async Task ReplyEvent_GoesBackIntoTheBroker()
    {
        var reply = CloudEventHttp.EncodeBinary(Event("reply-1", "reply"));
        _sender.Answer = (_, e) => e.Type == "t" ? new AttemptResult(200, null, reply.Body, reply.ContentType, reply.Headers) : Ok();
        await using var dispatcher = await StartAsync(Route());
        await PublishAsync(Event("1"));

        await Eventually(() => Task.FromResult(_sender.Attempts.Any(a => a.Event.Id == "reply-1")));
        Assert.Equal(1, dispatcher.Counters.Replies);
    }

    [Fact]
    public async Task Restart_RedeliversWhatWasNotFinished()
    {
        var never = new TaskCompletionSource<AttemptResult>();
        _sender.AnswerAsync = (_, e) => e.Id == "2" ? never.Task : Task.FromResult(Ok());
        await using (await StartAsync(Route()))
        {
            await PublishAsync(Event("1"), Event("2"), Event("3"));
            await Eventually(() => Task.FromResult(_sender.Attempts.Count == 3));
        }

        await _log!.DisposeAsync();
        _log = null;
        _sender.AnswerAsync = (_, _) => Task.FromResult(Ok());
        await using var again = await StartAsync(Route());

        await Eventually(async () => await Log.GetPositionAsync("trigger") == 4);
        Assert.Contains(_sender.Attempts.Skip(3), a => a.Event.Id == "2");
    }

    private static AttemptResult Ok() => new(202, null, ReadOnlyMemory<byte>.Empty, null, []);

    private static async Task Eventually(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 10 s");
            await Task.Delay(5);
        }
    }

    private sealed class FakeSender : IEventSender
    {
        public ConcurrentQueue<(DeliveryTarget Target, CloudEvent Event)> Queue { get; } = new();

        public List<(DeliveryTarget Target, CloudEvent Event)> Attempts => [.. Queue];

        public Func<DeliveryTarget, CloudEvent, AttemptResult> Answer { get; set; } = (_, _) => Ok();

        public Func<DeliveryTarget, CloudEvent, Task<AttemptResult>>? AnswerAsync { get; set; }

        public int CountTo(DeliveryTarget target) => Attempts.Count(a => a.Target == target);

        public Task<AttemptResult> SendAsync(DeliveryTarget target, CloudEvent cloudEvent, TimeSpan timeout, CancellationToken cancellationToken)
        {
            Queue.Enqueue((target, cloudEvent));
            return AnswerAsync is { } async ? async(target, cloudEvent).WaitAsync(cancellationToken) : Task.FromResult(Answer(target, cloudEvent));
        }
    }
}
