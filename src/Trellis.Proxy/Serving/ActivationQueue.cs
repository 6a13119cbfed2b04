namespace Trellis.Proxy.Serving;

/// <summary>How a request's wait in an <see cref="ActivationQueue"/> ended.</summary>
internal enum ActivationOutcome
{
    /// <summary>The cluster has endpoints (now, or in a snapshot applied while the request waited).</summary>
    Ready,
    /// <summary>The queue was full; the request never waited.</summary>
    QueueFull,
    TimedOut,
    /// <summary>The client went away while waiting.</summary>
    Canceled,
}

/// <summary>
/// Knative's activator for one cluster that can scale to zero: requests that find no endpoint (or, with
/// the activator in the path, no endpoint with a free slot) wait here (bounded, each with a deadline),
/// demand is raised at once and then every second while any wait, the first snapshot that gives the
/// cluster room releases them all, and each returned slot releases the longest waiting one. A waiter leaves
/// the queue exactly once: released, timed out or cancelled, all decided under one lock, so a request
/// is never both failed and forwarded. Lives across snapshots (keyed by cluster name), so a swap
/// never drops a waiter.
/// </summary>
internal sealed class ActivationQueue
{
    /// <summary>Knative's activator reports demand every second; we raise it no more often.</summary>
    public static readonly TimeSpan DemandInterval = TimeSpan.FromSeconds(1);

    private readonly object _gate = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private readonly TimeProvider _time;
    private readonly Func<bool> _hasEndpoints;
    private readonly Action<string, int> _raiseDemand;
    // Guarded by _gate.
    private ITimer? _demandTimer;
    private long _lastDemand;
    private bool _demandRaisedOnce;
    private int _waiting;

    /// <param name="hasEndpoints">Whether the cluster has an endpoint with room in the current snapshot; checked under the queue's lock.</param>
    public ActivationQueue(string cluster, TimeProvider time, Func<bool> hasEndpoints, Action<string, int> raiseDemand)
    {
        Cluster = cluster;
        _time = time;
        _hasEndpoints = hasEndpoints;
        _raiseDemand = raiseDemand;
    }

    public string Cluster { get; }

    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Waits until the cluster has endpoints, the queue is full, the timeout passes or the client leaves.</summary>
    public async Task<ActivationOutcome> WaitAsync(int capacity, TimeSpan timeout, CancellationToken requestAborted)
    {
        Waiter waiter;
        var raise = false;
        lock (_gate)
        {
            // A snapshot swapped in before we took the lock has been seen here; one swapped in after
            // will release us, because the release takes this lock after the swap.
            if (_hasEndpoints())
            {
                return ActivationOutcome.Ready;
            }

            if (_waiters.Count >= capacity)
            {
                return ActivationOutcome.QueueFull;
            }

            waiter = new Waiter(this);
            waiter.Node = _waiters.AddLast(waiter);
            Volatile.Write(ref _waiting, _waiters.Count);
            if (!_demandRaisedOnce || _time.GetElapsedTime(_lastDemand) >= DemandInterval)
            {
                raise = true;
                _demandRaisedOnce = true;
                _lastDemand = _time.GetTimestamp();
            }

            _demandTimer ??= _time.CreateTimer(static s => ((ActivationQueue)s!).OnDemandTimer(), this, DemandInterval, Timeout.InfiniteTimeSpan);
        }

        // Armed outside the lock: either may complete the waiter at once, and both take the lock.
        using var deadline = _time.CreateTimer(static s => ((Waiter)s!).Leave(ActivationOutcome.TimedOut), waiter, timeout, Timeout.InfiniteTimeSpan);
        await using var aborted = requestAborted.UnsafeRegister(static s => ((Waiter)s!).Leave(ActivationOutcome.Canceled), waiter);
        if (raise)
        {
            _raiseDemand(Cluster, Waiting);
        }

        return await waiter.Task;
    }

    /// <summary>
    /// Releases the longest waiting request, if any; called when a request returns an endpoint slot
    /// while the activator is in the path. The slot is returned before this takes the lock, and a
    /// waiter checks for room under the lock before it queues, so a freed slot never goes unnoticed.
    /// </summary>
    public void ReleaseOne()
    {
        Waiter? first;
        lock (_gate)
        {
            first = _waiters.First?.Value;
            if (first is null)
            {
                return;
            }

            _waiters.RemoveFirst();
            Volatile.Write(ref _waiting, _waiters.Count);
        }

        first.Complete(ActivationOutcome.Ready);
    }

    /// <summary>Releases every waiter; called after a snapshot that gives the cluster endpoints is swapped in. Returns how many.</summary>
    public int ReleaseAll()
    {
        List<Waiter>? released = null;
        lock (_gate)
        {
            if (_waiters.Count == 0)
            {
                return 0;
            }

            released = [.. _waiters];
            _waiters.Clear();
            Volatile.Write(ref _waiting, 0);
        }

        foreach (var waiter in released)
        {
            waiter.Complete(ActivationOutcome.Ready);
        }

        return released.Count;
    }

    private bool TryLeave(Waiter waiter)
    {
        lock (_gate)
        {
            if (waiter.Node?.List is null)
            {
                return false;
            }

            _waiters.Remove(waiter.Node);
            Volatile.Write(ref _waiting, _waiters.Count);
            return true;
        }
    }

    private void OnDemandTimer()
    {
        int waiting;
        lock (_gate)
        {
            waiting = _waiters.Count;
            if (waiting == 0)
            {
                _demandTimer?.Dispose();
                _demandTimer = null;
                return;
            }

            _demandTimer?.Change(DemandInterval, Timeout.InfiniteTimeSpan);
            if (_time.GetElapsedTime(_lastDemand) < DemandInterval)
            {
                return;
            }

            _lastDemand = _time.GetTimestamp();
        }

        _raiseDemand(Cluster, waiting);
    }

    private sealed class Waiter(ActivationQueue owner)
    {
        private readonly TaskCompletionSource<ActivationOutcome> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }

        public Task<ActivationOutcome> Task => _result.Task;

        public void Complete(ActivationOutcome outcome) => _result.TrySetResult(outcome);

        public void Leave(ActivationOutcome outcome)
        {
            if (owner.TryLeave(this))
            {
                Complete(outcome);
            }
        }
    }
}
