using Microsoft.Extensions.Logging;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.Registry;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Push;

/// <summary>
/// Follows the store and the registry and publishes a new <see cref="MeshState"/> after each change,
/// at most one per debounce interval: a change after a quiet interval is published at once (an
/// instance that just became ready for a request held at zero must not wait for a timer), and the
/// changes that follow within the interval are published together at its end, so a burst (an
/// apply of many documents, a node reporting many instances) costs two pushes, not one per change.
/// An instance that turns ready (<see cref="ServiceRegistry.ReadinessGained"/>) is published at once
/// even inside an interval, cutting a wait already begun: requests held at zero wait for exactly that
/// state, and the debounce cost a cold start up to its whole length (a start's "started" report
/// opens an interval that its "ready" report, 5-20 ms later, used to wait out).
/// With a <see cref="Jwks.JwksResolver"/> (which it owns), each state carries the JWKS documents fetched so far, and a
/// newly fetched one is a change.
/// </summary>
public sealed partial class MeshStateSource : IAsyncDisposable
{
    private readonly IResourceStore _store;
    private readonly ServiceRegistry _registry;
    private readonly TimeSpan _debounce;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _dirty = new(0);
    private readonly Task _storeWatch;
    private readonly Task _publisher;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _urgent = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MeshState _current;
    private Uri? _asyncFunctions;
    private readonly string _trustDomain;

    private readonly Jwks.JwksResolver? _jwks;

    public MeshStateSource(IResourceStore store, ServiceRegistry registry, ILogger<MeshStateSource> log, TimeSpan? debounce = null, TimeProvider? time = null, Jwks.JwksResolver? jwks = null, string? trustDomain = null)
    {
        _jwks = jwks;
        _trustDomain = trustDomain ?? Trellis.Api.Identity.SpiffeId.DefaultTrustDomain;
        _time = time ?? TimeProvider.System;
        _store = store;
        _registry = registry;
        _log = log;
        _debounce = debounce ?? TimeSpan.FromMilliseconds(20);
        _current = Build(1);
        _registry.Changed += MarkDirty;
        _registry.ReadinessGained += MarkUrgent;
        if (_jwks is not null)
        {
            _jwks.Changed += MarkDirty; // a fetched JWKS changes the snapshots that inline it
        }

        _storeWatch = FollowStoreAsync(store.Snapshot.Revision);
        _publisher = PublishAsync();
    }

    public MeshState Current => Volatile.Read(ref _current);

    /// <summary>Completes when a state newer than <paramref name="generation"/> is published (or at once if it already is).</summary>
    public Task WaitForNewerAsync(long generation, CancellationToken cancellationToken)
    {
        var signal = Volatile.Read(ref _changed).Task;
        return Current.Generation > generation ? Task.CompletedTask : signal.WaitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _registry.Changed -= MarkDirty;
        _registry.ReadinessGained -= MarkUrgent;
        if (_jwks is not null)
        {
            _jwks.Changed -= MarkDirty;
            await _jwks.DisposeAsync(); // the source owns its resolver
        }

        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_storeWatch, _publisher);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private void MarkDirty() => _dirty.Release();

    private void MarkUrgent()
    {
        Volatile.Read(ref _urgent).TrySetResult();
        _dirty.Release();
    }

    private async Task FollowStoreAsync(long fromRevision)
    {
        try
        {
            await foreach (var _ in _store.WatchAsync(fromRevision, _stop.Token))
            {
                MarkDirty();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task PublishAsync()
    {
        var token = _stop.Token;
        long? lastPublished = null;
        try
        {
            while (true)
            {
                await _dirty.WaitAsync(token);
                var urgent = Volatile.Read(ref _urgent).Task;
                var quiet = lastPublished is { } last ? _time.GetElapsedTime(last) : TimeSpan.MaxValue;
                if (quiet < _debounce && !urgent.IsCompleted)
                {
                    using var cut = CancellationTokenSource.CreateLinkedTokenSource(token);
                    await Task.WhenAny(Task.Delay(_debounce - quiet, _time, cut.Token), urgent);
                    await cut.CancelAsync(); // the delay's timer, when the urgent change came first
                    token.ThrowIfCancellationRequested();
                }

                if (urgent.IsCompleted)
                {
                    // Reset before the build: a readiness gained from here on is in this state or makes the next one urgent.
                    Interlocked.Exchange(ref _urgent, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                }

                while (_dirty.CurrentCount > 0)
                {
                    await _dirty.WaitAsync(token);
                }

                lastPublished = _time.GetTimestamp();
                var next = Build(Current.Generation + 1);
                Volatile.Write(ref _current, next);
                LogPublished(_log, next.Generation, next.Store.Revision, next.Instances.Count);
                var old = Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                old.TrySetResult();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Sets where gateways send <c>/async-function/</c> calls (the eventing listener, which starts after this source) and publishes it.</summary>
    public void SetAsyncFunctions(Uri? url)
    {
        Volatile.Write(ref _asyncFunctions, url);
        MarkDirty();
    }

    private MeshState Build(long generation)
    {
        var state = new MeshState(generation, _store.Snapshot, _registry.Instances) { AsyncFunctions = Volatile.Read(ref _asyncFunctions), TrustDomain = _trustDomain };
        return _jwks is null ? state : _jwks.Attach(state);
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Mesh state {Generation}: store revision {Revision}, {Instances} instances")]
    private static partial void LogPublished(ILogger log, long generation, long revision, int instances);
}
