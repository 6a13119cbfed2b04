namespace Trellis.Proxy.Serving;

/// <summary>What <see cref="InstanceBreaker.AcquireAsync"/> decided for one request.</summary>
internal enum Admission
{
    /// <summary>The request holds a slot and must give it back with <see cref="InstanceBreaker.Release"/>.</summary>
    Admitted,
    /// <summary>All slots and all queue places are taken.</summary>
    QueueFull,
    /// <summary>The request's token fired while it waited; it holds nothing.</summary>
    Canceled,
}

/// <summary>
/// Knative's queue-proxy breaker: at most <c>capacity</c> requests run at once, up to
/// <c>queueDepth</c> more wait in arrival order, anything beyond is refused at once (Knative sizes its
/// pending channel queueDepth + maxConcurrency, which is the same bound). The uncontended path is one
/// compare-and-swap; the lock is taken only when a request must queue or a queued one is woken.
/// </summary>
internal sealed class InstanceBreaker
{
    private readonly object _gate = new();
    // Waiters in arrival order; guarded by _gate. A node leaves it either by being granted a slot or by cancellation, never both.
    private readonly LinkedList<Waiter> _queue = new();
    private int _inFlight;
    // Mirrors _queue.Count so that Release can see "nobody waits" without the lock.
    private int _queued;

    public InstanceBreaker(int capacity, int queueDepth)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(queueDepth);
        Capacity = capacity;
        QueueDepth = queueDepth;
    }

    public int Capacity { get; }

    public int QueueDepth { get; }

    public int InFlight => Volatile.Read(ref _inFlight);

    public int Queued => Volatile.Read(ref _queued);

    public ValueTask<Admission> AcquireAsync(CancellationToken cancellationToken)
    {
        // Taking a free slot while others queue would overtake them; only the empty-queue case is fast.
        if (Volatile.Read(ref _queued) == 0 && TryTakeSlot())
        {
            return new ValueTask<Admission>(Admission.Admitted);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return new ValueTask<Admission>(Admission.Canceled);
        }

        Waiter waiter;
        lock (_gate)
        {
            if (_queue.Count == 0 && TryTakeSlot())
            {
                return new ValueTask<Admission>(Admission.Admitted);
            }

            if (_queue.Count >= QueueDepth)
            {
                return new ValueTask<Admission>(Admission.QueueFull);
            }

            waiter = new Waiter(this);
            waiter.Node = _queue.AddLast(waiter);
            Interlocked.Increment(ref _queued);
            // A release that ran between our failed CAS and the enqueue saw _queued == 0 and freed
            // its slot instead of handing it over; claim such a slot now.
            GrantWhileFree();
        }

        return waiter.WaitAsync(cancellationToken);
    }

    /// <summary>Gives a slot back: to the first waiter if there is one, otherwise to the pool.</summary>
    public void Release()
    {
        if (Volatile.Read(ref _queued) == 0)
        {
            Interlocked.Decrement(ref _inFlight);
            // Someone may have queued between the check and the decrement (see AcquireAsync).
            if (Volatile.Read(ref _queued) == 0)
            {
                return;
            }

            lock (_gate)
            {
                GrantWhileFree();
            }

            return;
        }

        lock (_gate)
        {
            var first = _queue.First;
            if (first is null)
            {
                Interlocked.Decrement(ref _inFlight);
                return;
            }

            // Hand the slot over directly: _inFlight stays as it is.
            Dequeue(first);
            first.Value.Grant();
        }
    }

    private bool TryTakeSlot() => BoundedCounter.TryIncrement(ref _inFlight, Capacity);

    // Caller holds _gate.
    private void GrantWhileFree()
    {
        while (_queue.First is { } first && TryTakeSlot())
        {
            Dequeue(first);
            first.Value.Grant();
        }
    }

    // Caller holds _gate.
    private void Dequeue(LinkedListNode<Waiter> node)
    {
        _queue.Remove(node);
        Interlocked.Decrement(ref _queued);
    }

    /// <summary>Removes a cancelled waiter if it is still queued; false when it was granted a slot first.</summary>
    private bool TryLeave(Waiter waiter)
    {
        lock (_gate)
        {
            if (waiter.Node?.List is null)
            {
                return false;
            }

            Dequeue(waiter.Node);
            return true;
        }
    }

    private sealed class Waiter(InstanceBreaker owner)
    {
        private readonly TaskCompletionSource<Admission> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }

        public void Grant() => _result.TrySetResult(Admission.Admitted);

        public async ValueTask<Admission> WaitAsync(CancellationToken cancellationToken)
        {
            await using (cancellationToken.UnsafeRegister(static s => ((Waiter)s!).Cancel(), this))
            {
                return await _result.Task;
            }
        }

        private void Cancel()
        {
            // Granting and leaving both happen under the breaker's lock, so exactly one of them wins.
            if (owner.TryLeave(this))
            {
                _result.TrySetResult(Admission.Canceled);
            }
        }
    }
}
