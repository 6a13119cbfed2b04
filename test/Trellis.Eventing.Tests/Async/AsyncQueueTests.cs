using System.Collections.Concurrent;
using Trellis.Eventing.Async;
using Trellis.Eventing.Delivery;
using Trellis.Eventing.Storage;
using Trellis.Runtime.Tests;

namespace Trellis.Eventing.Tests.Async;

public sealed class AsyncQueueTests : IAsyncDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-async-" + Guid.NewGuid().ToString("N"));
    private readonly ManualTimeProvider _time = new();
    private readonly FakeInvoker _invoker = new();

    public ValueTask DisposeAsync()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }

        return ValueTask.CompletedTask;
    }

    private static AsyncCall Call(string id, string? callback = "http://callback/") =>
        new() { Id = id, Namespace = "default", Function = "hello", Body = [1, 2, 3], CallbackUrl = callback, QueuedAt = DateTimeOffset.UnixEpoch };

    [Fact]
    public async Task Call_RunsOnce_AndPostsItsResultToTheCallback()
    {
        await using var store = new FileEventStore(_dir);
        await using var queue = await AsyncQueue.StartAsync(store, _invoker, _time);
        await queue.EnqueueAsync(Call("c1"), CancellationToken.None);

        await WaitAsync(() => queue.Calls.Single().Phase == CallPhase.Done);
        var done = queue.Calls.Single();
        Assert.Equal((1, 200), (done.Attempts, done.StatusCode));
        Assert.Equal(["c1"], _invoker.Callbacks.Select(c => c.Call.Id));
        Assert.Equal(200, _invoker.Callbacks.Single().Result.Status);
    }

    [Fact]
    public async Task FailingFunction_RetriesWithBackoff_ThenFailsAndTellsTheCallback()
    {
        _invoker.Status = 503;
        await using var store = new FileEventStore(_dir);
        await using var queue = await AsyncQueue.StartAsync(store, _invoker, _time, new DeliveryPolicy { Retry = 2, BackoffDelay = TimeSpan.FromSeconds(1) });
        await queue.EnqueueAsync(Call("c1"), CancellationToken.None);

        foreach (var wait in new[] { 2, 4 })
        {
            await WaitAsync(() => _time.PendingDelays().Count == 1);
            Assert.Equal(TimeSpan.FromSeconds(wait), _time.PendingDelays()[0]);
            _time.Advance(TimeSpan.FromSeconds(wait));
        }

        await WaitAsync(() => queue.Calls.Single().Phase == CallPhase.Failed);
        Assert.Equal(3, _invoker.Attempts.Count);
        Assert.Equal(503, queue.Calls.Single().StatusCode);
        Assert.Equal(503, _invoker.Callbacks.Single().Result.Status);
    }

    [Fact]
    public async Task Restart_KeepsFinishedCalls_AndRunsThePendingOnes()
    {
        var never = new TaskCompletionSource<AttemptResult>();
        _invoker.Hold = c => c.Id == "c2" ? never.Task : null;
        await using (var store = new FileEventStore(_dir))
        {
            await using var queue = await AsyncQueue.StartAsync(store, _invoker, _time);
            await queue.EnqueueAsync(Call("c1", null), CancellationToken.None);
            await queue.EnqueueAsync(Call("c2", null), CancellationToken.None);
            await WaitAsync(() => queue.Calls.Any(c => c.Id == "c1" && c.Phase == CallPhase.Done) && _invoker.Attempts.Any(a => a.Id == "c2"));
        }

        _invoker.Hold = _ => null;
        await using var reopened = new FileEventStore(_dir);
        await using var again = await AsyncQueue.StartAsync(reopened, _invoker, _time);

        await WaitAsync(() => again.Calls.Count == 2 && again.Calls.All(c => c.Phase == CallPhase.Done));
        Assert.Equal(1, _invoker.Attempts.Count(a => a.Id == "c1"));
        Assert.Equal(2, _invoker.Attempts.Count(a => a.Id == "c2"));
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 10 s");
            await Task.Delay(5);
        }
    }

    private sealed class FakeInvoker : IFunctionInvoker
    {
        private readonly ConcurrentQueue<AsyncCall> _attempts = new();
        private readonly ConcurrentQueue<(AsyncCall Call, AttemptResult Result)> _callbacks = new();

        public int Status { get; set; } = 200;

        public Func<AsyncCall, Task<AttemptResult>?> Hold { get; set; } = _ => null;

        public List<AsyncCall> Attempts => [.. _attempts];

        public List<(AsyncCall Call, AttemptResult Result)> Callbacks => [.. _callbacks];

        public Task<AttemptResult> InvokeAsync(AsyncCall call, CancellationToken cancellationToken)
        {
            _attempts.Enqueue(call);
            return Hold(call)?.WaitAsync(cancellationToken) ?? Task.FromResult(new AttemptResult(Status, null, "out"u8.ToArray(), "text/plain", []));
        }

        public Task<AttemptResult> CallbackAsync(AsyncCall call, AttemptResult result, TimeSpan duration, CancellationToken cancellationToken)
        {
            _callbacks.Enqueue((call, result));
            return Task.FromResult(new AttemptResult(200, null, ReadOnlyMemory<byte>.Empty, null, []));
        }
    }
}
