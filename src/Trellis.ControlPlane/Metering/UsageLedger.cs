using Trellis.Api.Metering;

namespace Trellis.ControlPlane.Metering;

/// <summary>
/// Metered usage per revision and instance, in memory only (a restarted control plane starts from
/// zero, as Prometheus counters of a restarted process do). Reports carry cumulative figures, so
/// each one replaces the previous for its instance or its (reporter, cluster). An instance that
/// exited moves its totals into its revision's and is remembered so a late report cannot count it
/// twice; a revision's figures are therefore the sums over all instances it ever had (its peak
/// memory the highest peak of any of them).
/// </summary>
public sealed class UsageLedger
{
    private static readonly int DurationBounds = HistogramBuckets.RequestDurationSeconds.Count;
    private static readonly int ColdStartBounds = HistogramBuckets.ColdStartSeconds.Count;

    private readonly object _gate = new();
    private readonly Dictionary<string, InstanceUsage> _live = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Namespace, string Revision), Totals> _retired = [];
    private readonly HashSet<string> _retiredIds = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Reporter, string Cluster), HistogramCounts> _coldStarts = [];

    /// <summary>Takes in one report; <paramref name="revisionOfCluster"/> maps a cluster to <c>(namespace, revision)</c>, null for other clusters.</summary>
    public void Record(MeteringReport report, Func<string, (string Namespace, string Revision)?> revisionOfCluster)
    {
        lock (_gate)
        {
            foreach (var usage in report.Instances)
            {
                if (_retiredIds.Contains(usage.Instance))
                {
                    continue;
                }

                if (!usage.Exited)
                {
                    _live[usage.Instance] = usage;
                    continue;
                }

                _live.Remove(usage.Instance);
                _retiredIds.Add(usage.Instance);
                var key = (usage.Namespace, usage.Revision);
                _retired[key] = (_retired.GetValueOrDefault(key) ?? Totals.Empty(usage)).Add(usage);
            }

            foreach (var cold in report.ColdStarts)
            {
                if (revisionOfCluster(cold.Cluster) is not null)
                {
                    _coldStarts[(report.Reporter, cold.Cluster)] = cold.Durations;
                }
            }
        }
    }

    /// <summary>Every revision with usage, optionally of one namespace and Knative Service, sorted by namespace and name.</summary>
    public UsageView View(Func<string, (string Namespace, string Revision)?> revisionOfCluster, string? ns = null, string? service = null)
    {
        lock (_gate)
        {
            var revisions = new Dictionary<(string, string), (Totals Totals, List<InstanceUsage> Instances, HistogramCounts Cold)>();
            foreach (var ((n, r), totals) in _retired)
            {
                revisions[(n, r)] = (totals, [], HistogramCounts.Empty(ColdStartBounds));
            }

            foreach (var usage in _live.Values)
            {
                var key = (usage.Namespace, usage.Revision);
                var (totals, instances, cold) = revisions.GetValueOrDefault(key, (Totals.Empty(usage), new List<InstanceUsage>(), HistogramCounts.Empty(ColdStartBounds)));
                instances.Add(usage);
                revisions[key] = (totals.Add(usage), instances, cold);
            }

            foreach (var ((_, cluster), durations) in _coldStarts)
            {
                if (revisionOfCluster(cluster) is not { } key)
                {
                    continue;
                }

                var (totals, instances, cold) = revisions.GetValueOrDefault(key, (Totals.Empty(new InstanceUsage("", key.Namespace, "", "", key.Revision, 0, HistogramCounts.Empty(DurationBounds), 0, 0)), new List<InstanceUsage>(), HistogramCounts.Empty(ColdStartBounds)));
                revisions[key] = (totals, instances, cold.Add(durations));
            }

            return new UsageView(revisions
                .Where(kv => (ns is null || kv.Key.Item1 == ns) && (service is null || kv.Value.Totals.Service == service))
                .OrderBy(kv => kv.Key.Item1, StringComparer.Ordinal).ThenBy(kv => kv.Key.Item2, StringComparer.Ordinal)
                .Select(kv =>
                {
                    var t = kv.Value.Totals;
                    return new RevisionUsage(kv.Key.Item1, t.Service, t.Configuration, kv.Key.Item2, t.Durations.Count, t.Durations, t.CpuSeconds,
                        t.MemoryPeakBytes, kv.Value.Cold, kv.Value.Instances.OrderBy(i => i.Instance, StringComparer.Ordinal).ToArray());
                })
                .ToArray());
        }
    }

    /// <summary>A revision's sums; service and configuration are those of the first instance that named them.</summary>
    private sealed record Totals(string Service, string Configuration, HistogramCounts Durations, double CpuSeconds, long MemoryPeakBytes)
    {
        public static Totals Empty(InstanceUsage from) => new(from.Service, from.Configuration, HistogramCounts.Empty(DurationBounds), 0, 0);

        public Totals Add(InstanceUsage usage) => new(
            Service.Length > 0 ? Service : usage.Service,
            Configuration.Length > 0 ? Configuration : usage.Configuration,
            Durations.Add(usage.Durations),
            CpuSeconds + usage.CpuSeconds,
            Math.Max(MemoryPeakBytes, usage.MemoryPeakBytes));
    }
}
