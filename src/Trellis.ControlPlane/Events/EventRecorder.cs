using Trellis.ControlPlane.Push;

namespace Trellis.ControlPlane.Events;

/// <summary>
/// Follows the published mesh states and logs what changed between each two (<see cref="EventDiff"/>): the
/// events <c>trellis describe</c> and <c>trellis get events</c> show. What was already so at start is not an event.
/// </summary>
public sealed class EventRecorder : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public EventRecorder(MeshStateSource states, EventLog log)
    {
        _loop = RunAsync(states, log, _stop.Token);
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

    private static async Task RunAsync(MeshStateSource states, EventLog log, CancellationToken token)
    {
        var previous = states.Current;
        while (!token.IsCancellationRequested)
        {
            await states.WaitForNewerAsync(previous.Generation, token);
            var next = states.Current;
            log.Record(EventDiff.Between(previous, next));
            previous = next;
        }
    }
}
