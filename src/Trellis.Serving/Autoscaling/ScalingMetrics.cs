namespace Trellis.Serving.Autoscaling;

/// <summary>
/// What the autoscaler observes at one tick: the revision's metric samples (for the metric named in its settings),
/// how many instances are ready, and whether any route sends traffic to the revision. An unreachable revision ignores
/// min-scale and may drop to zero at once, as Knative does for revisions no route references.
/// </summary>
public sealed record ScalingMetrics(MetricWindow Window, int ReadyPods, bool Reachable = true);
