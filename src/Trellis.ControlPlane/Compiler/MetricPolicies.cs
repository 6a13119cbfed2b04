using Trellis.Api.Networking;
using Trellis.Api.Observability;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// The Telemetry API's <c>metrics</c> for one side of a workload, merged as istiod merges them (pilot's
/// <c>model/telemetry.go</c>, <c>mergeMetrics</c>): the providers are the most specific level's that names any (else
/// the mesh's <c>defaultProviders.metrics</c>), and an entry without providers speaks for its parent's; then every
/// level's overrides apply in order, mesh first. An override matching all metrics with <c>disabled: true</c> turns the
/// side's metrics off; any later override for that side turns them back on. Other overrides set, per metric they match
/// (<c>ALL_METRICS</c> or no match: every one), <c>disabled</c> when it is written and each tag operation, a later one
/// of the same tag replacing an earlier one.
/// </summary>
internal static class MetricPolicies
{
    /// <summary>Whether the side counts at all, and its per-metric settings (null for Istio's defaults).</summary>
    public static (bool Enabled, IReadOnlyList<MetricOverrideConfig>? Overrides) For(List<TelemetrySpec> chain, WorkloadMode mode, MeshTelemetry mesh)
    {
        var entries = chain.SelectMany(t => t.Metrics).ToList();
        IReadOnlyList<string> inScope = mesh.DefaultMetrics;
        foreach (var entry in entries.Where(e => e.Providers.Count > 0))
        {
            inScope = entry.Providers.Select(p => p.Name).ToList();
        }

        var prometheus = inScope.Where(name => mesh.Provider(name) is PrometheusProvider).ToHashSet(StringComparer.Ordinal);
        if (prometheus.Count == 0)
        {
            return (false, null);
        }

        var disabledAll = false;
        var metrics = new SortedDictionary<StandardMetric, (bool? Disabled, SortedDictionary<string, string?> Tags)>();
        IReadOnlyList<string> parent = mesh.DefaultMetrics;
        foreach (var entry in entries)
        {
            var providers = entry.Providers.Count > 0 ? entry.Providers.Select(p => p.Name).ToList() : parent;
            parent = providers;
            if (!providers.Any(prometheus.Contains))
            {
                continue; // an entry for another provider (or one a more specific level left out)
            }

            foreach (var o in entry.Overrides.Where(o => Applies(o.Match?.Mode, mode)))
            {
                var all = o.Match is null || (o.Match.CustomMetric is null && o.Match.Metric is null or IstioMetric.AllMetrics);
                if (all && o.Disabled == true)
                {
                    disabledAll = true;
                    continue;
                }

                disabledAll = false; // the root namespace disables all, a namespace enables them again
                foreach (var metric in Matches(o.Match))
                {
                    var current = metrics.TryGetValue(metric, out var found) ? found : (null, new SortedDictionary<string, string?>(StringComparer.Ordinal));
                    foreach (var (name, tag) in o.TagOverrides)
                    {
                        current.Tags[name] = tag.Operation == TagOperation.Remove ? null : tag.Value;
                    }

                    metrics[metric] = (o.Disabled ?? current.Disabled, current.Tags);
                }
            }
        }

        if (disabledAll)
        {
            return (false, null);
        }

        var overrides = metrics
            .Where(m => m.Value.Disabled == true || m.Value.Tags.Count > 0)
            .Select(m => new MetricOverrideConfig(
                m.Key, m.Value.Disabled == true, m.Value.Tags.Count == 0 ? null : m.Value.Tags.Select(t => new TagOverrideConfig(t.Key, t.Value)).ToList()))
            .ToList();
        return (true, overrides.Count == 0 ? null : overrides);
    }

    private static bool Applies(WorkloadMode? written, WorkloadMode mode) => written is null or WorkloadMode.ClientAndServer || written == mode;

    /// <summary>
    /// The standard metrics a selector matches: all of them without a metric (or <c>ALL_METRICS</c>), else the one it
    /// names; none for a custom metric or the gRPC message counters, which Trellis does not count.
    /// </summary>
    private static IEnumerable<StandardMetric> Matches(MetricSelector? match) => match switch
    {
        { CustomMetric: not null } => [],
        null or { Metric: null or IstioMetric.AllMetrics } => Enum.GetValues<StandardMetric>(),
        { Metric: var metric } => metric switch
        {
            IstioMetric.RequestCount => [StandardMetric.RequestCount],
            IstioMetric.RequestDuration => [StandardMetric.RequestDuration],
            IstioMetric.RequestSize => [StandardMetric.RequestSize],
            IstioMetric.ResponseSize => [StandardMetric.ResponseSize],
            IstioMetric.TcpOpenedConnections => [StandardMetric.TcpOpenedConnections],
            IstioMetric.TcpClosedConnections => [StandardMetric.TcpClosedConnections],
            IstioMetric.TcpSentBytes => [StandardMetric.TcpSentBytes],
            IstioMetric.TcpReceivedBytes => [StandardMetric.TcpReceivedBytes],
            _ => [],
        },
    };
}
