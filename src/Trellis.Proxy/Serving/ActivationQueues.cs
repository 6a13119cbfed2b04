using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Serving;

/// <summary>
/// The <see cref="ActivationQueue"/> of each activation cluster, by name, so that waiters outlive
/// the snapshot they arrived under. Queues are made on first use (the slow path only).
/// </summary>
internal sealed class ActivationQueues
{
    private readonly ConcurrentDictionary<string, ActivationQueue> _queues = new(StringComparer.Ordinal);
    private readonly SnapshotHolder _snapshots;
    private readonly TimeProvider _time;
    private readonly Action<string, int> _raiseDemand;
    private readonly ILogger _log;

    public ActivationQueues(SnapshotHolder snapshots, TimeProvider time, Action<string, int> raiseDemand, ILogger? log = null)
    {
        _snapshots = snapshots;
        _time = time;
        _raiseDemand = raiseDemand;
        _log = log ?? NullLogger.Instance;
    }

    public ActivationQueue For(string cluster) =>
        _queues.GetOrAdd(cluster, static (name, self) => new ActivationQueue(name, self._time, () => self.HasRoom(name), self._raiseDemand), this);

    public int Waiting(string cluster) => _queues.TryGetValue(cluster, out var queue) ? queue.Waiting : 0;

    /// <summary>A request gave back its endpoint slot (activator in the path): the next waiter may take it.</summary>
    public void SlotReturned(string cluster)
    {
        if (_queues.TryGetValue(cluster, out var queue))
        {
            queue.ReleaseOne();
        }
    }

    /// <summary>
    /// After <paramref name="current"/> was swapped in: releases the waiters of every cluster that now
    /// has endpoints; they re-resolve their cluster in the current snapshot. Forgets idle queues of
    /// clusters that are gone.
    /// </summary>
    public void OnSnapshotSwapped(CompiledSnapshot current)
    {
        foreach (var (name, queue) in _queues)
        {
            if (!current.Clusters.TryGetValue(name, out var cluster))
            {
                if (queue.Waiting == 0)
                {
                    _queues.TryRemove(name, out _);
                }

                continue;
            }

            if (cluster.HasRoom() && queue.ReleaseAll() is > 0 and var released)
            {
                // With the demand log (401), the activator's part of a cold start: held → released.
                Telemetry.ProxyLog.HeldRequestsReleased(_log, name, released);
            }
        }
    }

    private bool HasRoom(string cluster) =>
        _snapshots.Current.Clusters.TryGetValue(cluster, out var state) && state.HasRoom();
}
