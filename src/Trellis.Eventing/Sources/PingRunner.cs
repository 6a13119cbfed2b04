using Trellis.Api.Eventing;
using Trellis.Eventing.Delivery;

namespace Trellis.Eventing.Sources;

/// <summary>The configuration a PingSource's runner works with, resolved from the object.</summary>
public sealed record PingTarget(string Namespace, string Name, PingSourceSpec Spec, PingSchedule Schedule, DeliveryTarget Sink);

/// <summary>
/// Sends one PingSource's event at each time its schedule gives, on the injected clock. Like Knative's
/// ping adapter it sends each event once (no retries): a missed tick is reported, not replayed, and
/// ticks missed while the runner was not running are not sent afterwards.
/// </summary>
public sealed class PingRunner : IAsyncDisposable
{
    private readonly IEventSender _sender;
    private readonly TimeProvider _time;
    private readonly Func<string> _ids;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private volatile PingTarget _target;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _sent;
    private long _failed;

    public PingRunner(PingTarget target, IEventSender sender, TimeProvider time, Func<string>? ids = null)
    {
        _target = target;
        _sender = sender;
        _time = time;
        _ids = ids ?? (() => Guid.NewGuid().ToString());
        _loop = Task.Run(RunAsync);
    }

    public long Sent => Interlocked.Read(ref _sent);

    public long Failed => Interlocked.Read(ref _failed);

    public string? LastError { get; private set; }

    public PingTarget Target => _target;

    /// <summary>A changed schedule takes effect at once (the wait is recomputed); data and sink from the next tick.</summary>
    public void Update(PingTarget target)
    {
        _target = target;
        Interlocked.Exchange(ref _changed, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        var after = _time.GetUtcNow();
        while (!token.IsCancellationRequested)
        {
            var target = _target;
            var changed = Volatile.Read(ref _changed).Task;
            if (target.Schedule.Next(after) is not { } next)
            {
                await changed.WaitAsync(token);
                continue;
            }

            var wait = next - _time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                var delay = Task.Delay(wait, _time, token);
                if (await Task.WhenAny(delay, changed) == changed)
                {
                    continue;
                }

                await delay;
            }

            after = next;
            target = _target;
            var cloudEvent = PingEvent.Create(target.Namespace, target.Name, target.Spec, next, _ids());
            var result = await _sender.SendAsync(target.Sink, cloudEvent, DeliveryPolicy.DefaultTimeout, token);
            if (result.Succeeded)
            {
                Interlocked.Increment(ref _sent);
            }
            else
            {
                Interlocked.Increment(ref _failed);
                LastError = result.Error ?? $"the sink answered {result.Status}";
            }
        }
    }
}
