using Trellis.Serving.Autoscaling;

namespace Trellis.ControlPlane.Serving;

/// <summary>
/// The autoscaler's live state per revision: the metric window fed by proxies' load reports and the
/// activator's demand, and the KPA state carried from tick to tick. The decisions themselves are the
/// pure <see cref="Autoscaler.Scale"/>.
/// </summary>
public sealed class RevisionScalers(TimeProvider time)
{
    private readonly object _gate = new();
    private readonly Dictionary<string, (AutoscalerState? State, MetricWindow Concurrency, MetricWindow Rps)> _revisions = new(StringComparer.Ordinal);

    /// <summary>One observation for a revision: in-flight requests and requests per second; an instance's samples in one second add up.</summary>
    public void Record(string revision, DateTimeOffset at, double concurrency, double rps)
    {
        lock (_gate)
        {
            var entry = Entry(revision);
            _revisions[revision] = entry with { Concurrency = entry.Concurrency.Record(at, concurrency), Rps = entry.Rps.Record(at, rps) };
        }
    }

    public ScaleDecision Tick(string revision, AutoscalerSettings settings, int readyPods)
    {
        var now = time.GetUtcNow();
        lock (_gate)
        {
            var entry = Entry(revision);
            var state = entry.State ?? AutoscalerState.Create(settings, readyPods, now);
            var window = settings.Metric == AutoscalingAnnotations.Rps ? entry.Rps : entry.Concurrency;
            var (decision, next) = Autoscaler.Scale(settings, state, new ScalingMetrics(window, readyPods), now);
            _revisions[revision] = (next, entry.Concurrency, entry.Rps);
            return decision;
        }
    }

    public void Forget(IEnumerable<string> gone)
    {
        lock (_gate)
        {
            foreach (var revision in gone)
            {
                _revisions.Remove(revision);
            }
        }
    }

    public IReadOnlyList<string> Known()
    {
        lock (_gate)
        {
            return _revisions.Keys.ToList();
        }
    }

    private (AutoscalerState? State, MetricWindow Concurrency, MetricWindow Rps) Entry(string revision) =>
        _revisions.TryGetValue(revision, out var e) ? e : (null, MetricWindow.Empty(TimeSpan.FromMinutes(10)), MetricWindow.Empty(TimeSpan.FromMinutes(10)));
}
