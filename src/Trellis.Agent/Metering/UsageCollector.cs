using Trellis.Api.Metering;
using Trellis.Proxy;
using Trellis.Runtime;

namespace Trellis.Agent.Metering;

/// <summary>
/// Keeps the running totals of this node's revision instances: invocations and durations from their
/// inbound listeners (deltas from <see cref="ProxyServer.SampleDurations"/>, added up here so they
/// survive a listener being replaced), CPU-seconds and peak memory from the
/// <see cref="IInstanceMeter"/>. An instance that is gone is reported once more with
/// <c>exited: true</c>, and forgotten once a report carrying that has been delivered.
/// Thread-safe: the reporter's tick and the supervisor's change events both call in.
/// </summary>
public sealed class UsageCollector : IDisposable
{
    private const string ServingGroup = "serving.knative.dev/";

    private readonly object _gate = new();
    private readonly IInstanceMeter _meter;
    private readonly Func<IReadOnlyList<InstanceStatus>> _instances;
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public UsageCollector(IInstanceMeter meter, Func<IReadOnlyList<InstanceStatus>> instances)
    {
        _meter = meter;
        _instances = instances;
    }

    public string MeterKind => _meter.Kind;

    /// <summary>
    /// Lets the meter see new processes at once (a cgroup meter moves them into the instance's
    /// cgroup), rather than at the next report.
    /// </summary>
    public void OnInstancesChanged(IReadOnlyList<InstanceStatus> instances)
    {
        lock (_gate)
        {
            Track(instances);
            _meter.Sample(Metered(instances));
        }
    }

    /// <summary>Adds <paramref name="durations"/> (inbound listeners' deltas) and returns every instance's totals.</summary>
    public IReadOnlyList<InstanceUsage> Collect(IReadOnlyList<ListenerDurations> durations)
    {
        lock (_gate)
        {
            var instances = _instances();
            Track(instances);
            foreach (var sample in durations)
            {
                if (sample.Listener.EndsWith("/inbound", StringComparison.Ordinal) && _entries.TryGetValue(sample.Workload, out var entry))
                {
                    entry.Durations = entry.Durations.Add(sample.Durations);
                }
            }

            var running = instances.ToDictionary(i => i.Id, StringComparer.Ordinal);
            foreach (var (id, entry) in _entries)
            {
                entry.Exited |= !running.ContainsKey(id);
            }

            var usage = _meter.Sample(Metered(instances));
            return _entries.Values.Select(e =>
            {
                var (cpu, memory) = usage.GetValueOrDefault(e.Id);
                return new InstanceUsage(e.Id, e.Namespace, e.Service, e.Configuration, e.Revision, e.Durations.Count, e.Durations, cpu, memory, e.Exited);
            }).ToArray();
        }
    }

    /// <summary>A report from <see cref="Collect"/> reached the control plane: exited instances in it are done.</summary>
    public void Delivered(IReadOnlyList<InstanceUsage> report)
    {
        lock (_gate)
        {
            foreach (var usage in report.Where(u => u.Exited))
            {
                _entries.Remove(usage.Instance);
                _meter.Forget(usage.Instance);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _meter.Dispose();
        }
    }

    private void Track(IReadOnlyList<InstanceStatus> instances)
    {
        foreach (var i in instances)
        {
            if (!_entries.ContainsKey(i.Id) && i.Labels.TryGetValue(ServingGroup + "revision", out var revision))
            {
                _entries[i.Id] = new Entry(i.Id, i.Namespace, Label(i, "service"), Label(i, "configuration"), revision);
            }
        }
    }

    private List<MeteredInstance> Metered(IReadOnlyList<InstanceStatus> instances)
    {
        var pids = instances.Where(i => i.Pid is not null).ToDictionary(i => i.Id, i => i.Pid, StringComparer.Ordinal);
        return _entries.Keys.Select(id => new MeteredInstance(id, pids.GetValueOrDefault(id))).ToList();
    }

    private static string Label(InstanceStatus i, string name) => i.Labels.GetValueOrDefault(ServingGroup + name) ?? "";

    private sealed class Entry(string id, string ns, string service, string configuration, string revision)
    {
        public string Id { get; } = id;
        public string Namespace { get; } = ns;
        public string Service { get; } = service;
        public string Configuration { get; } = configuration;
        public string Revision { get; } = revision;
        public HistogramCounts Durations { get; set; } = HistogramCounts.Empty(HistogramBuckets.RequestDurationSeconds.Count);
        public bool Exited { get; set; }
    }
}
