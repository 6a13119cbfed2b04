using System.Collections.Immutable;
using Trellis.Api.Registry;

namespace Trellis.ControlPlane.Registry;

/// <summary>
/// The instances agents report, by node. Soft state: an agent resends its whole node on every change
/// and as a heartbeat; a node not heard from within <see cref="NodeTimeout"/> is dropped so its
/// endpoints leave the mesh.
/// </summary>
public sealed class ServiceRegistry
{
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private ImmutableDictionary<string, (NodeStatus Status, DateTimeOffset Seen)> _nodes =
        ImmutableDictionary<string, (NodeStatus, DateTimeOffset)>.Empty;
    private long _generation;

    public ServiceRegistry(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    public TimeSpan NodeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Bumped on every change that can alter what proxies see.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>Raised after a change; handlers must be quick (they only signal).</summary>
    public event Action? Changed;

    /// <summary>
    /// Raised before <see cref="Changed"/> when a report makes an instance ready that was not: the
    /// change requests held at zero wait for, which should reach proxies without any debounce.
    /// </summary>
    public event Action? ReadinessGained;

    public IReadOnlyList<WorkloadInstance> Instances =>
        _nodes.Values.SelectMany(n => n.Status.Instances).OrderBy(i => i.Namespace, StringComparer.Ordinal).ThenBy(i => i.Id, StringComparer.Ordinal).ToList();

    public void Report(NodeStatus status)
    {
        bool changed, gained;
        lock (_gate)
        {
            var had = _nodes.TryGetValue(status.Node, out var old);
            changed = !had || !SameInstances(old.Status, status);
            gained = changed && GainsReady(had ? old.Status : null, status);
            _nodes = _nodes.SetItem(status.Node, (status, _time.GetUtcNow()));
            if (changed)
            {
                Interlocked.Increment(ref _generation);
            }
        }

        if (gained)
        {
            ReadinessGained?.Invoke();
        }

        if (changed)
        {
            Changed?.Invoke();
        }
    }

    /// <summary>Drops nodes whose agent has gone quiet. Called periodically by the control plane host.</summary>
    public void ExpireStale()
    {
        bool changed;
        lock (_gate)
        {
            var cutoff = _time.GetUtcNow() - NodeTimeout;
            var stale = _nodes.Where(n => n.Value.Seen < cutoff).Select(n => n.Key).ToList();
            changed = stale.Count > 0;
            _nodes = _nodes.RemoveRange(stale);
            if (changed)
            {
                Interlocked.Increment(ref _generation);
            }
        }

        if (changed)
        {
            Changed?.Invoke();
        }
    }

    /// <summary>The nodes heard from, by name.</summary>
    public IReadOnlyList<string> Nodes => _nodes.Keys.Order(StringComparer.Ordinal).ToList();

    /// <summary>The last report of every node, by name.</summary>
    public IReadOnlyList<NodeStatus> NodeStatuses => _nodes.Values.Select(n => n.Status).OrderBy(n => n.Node, StringComparer.Ordinal).ToList();

    /// <summary>Forgets a node at once (its etcd lease ended: the shared registry decided it is gone).</summary>
    public void Remove(string node)
    {
        bool changed;
        lock (_gate)
        {
            changed = _nodes.ContainsKey(node);
            _nodes = _nodes.Remove(node);
            if (changed)
            {
                Interlocked.Increment(ref _generation);
            }
        }

        if (changed)
        {
            Changed?.Invoke();
        }
    }

    public string? AgentUrlOf(string node) => _nodes.TryGetValue(node, out var n) ? n.Status.AgentUrl : null;

    private static bool GainsReady(NodeStatus? before, NodeStatus after) =>
        after.Instances.Any(i => i.Ready && !(before?.Instances.Any(o => o.Id == i.Id && o.Ready) ?? false));

    private static bool SameInstances(NodeStatus a, NodeStatus b)
    {
        if (a.AgentUrl != b.AgentUrl || a.Instances.Count != b.Instances.Count || a.Address != b.Address || a.Capacity != b.Capacity
            || !(a.Labels ?? new Dictionary<string, string>()).OrderBy(p => p.Key).SequenceEqual((b.Labels ?? new Dictionary<string, string>()).OrderBy(p => p.Key)))
        {
            return false; // the scheduler reads labels and capacity: a change to them is a change
        }

        // Restart counts and phases matter to `get pods`; compare the whole records field by field.
        for (var i = 0; i < a.Instances.Count; i++)
        {
            var x = a.Instances[i];
            var y = b.Instances[i];
            if (x.Id != y.Id || x.Phase != y.Phase || x.Ready != y.Ready || x.Restarts != y.Restarts || x.Pid != y.Pid
                || x.Message != y.Message || !x.Ports.OrderBy(p => p.Key).SequenceEqual(y.Ports.OrderBy(p => p.Key))
                || !x.Labels.OrderBy(p => p.Key).SequenceEqual(y.Labels.OrderBy(p => p.Key)))
            {
                return false;
            }
        }

        return true;
    }
}
