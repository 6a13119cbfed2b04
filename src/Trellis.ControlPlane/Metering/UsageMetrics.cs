using Trellis.Api.Metering;

namespace Trellis.ControlPlane.Metering;

/// <summary>The metering families of <c>GET /metrics</c>, from a <see cref="UsageView"/>.</summary>
public static class UsageMetrics
{
    public static string Render(UsageView view)
    {
        var text = new PrometheusText();
        var revisions = view.Revisions;
        var instances = revisions.SelectMany(r => r.Instances.Select(i => (Revision: r, Instance: i))).ToList();

        text.Family("trellis_revision_requests_total", "counter", "Requests completed by the revision's instances (all instances it ever had).");
        foreach (var r in revisions)
        {
            text.Sample("trellis_revision_requests_total", Labels(r), r.Requests);
        }

        text.Family("trellis_revision_request_duration_seconds", "histogram", "Request duration at the instance's inbound proxy, from request start to response end.");
        foreach (var r in revisions)
        {
            text.Histogram("trellis_revision_request_duration_seconds", Labels(r), HistogramBuckets.RequestDurationSeconds, r.Durations.Counts, r.Durations.SumSeconds);
        }

        text.Family("trellis_revision_cpu_seconds_total", "counter", "CPU time used by the revision's instance processes.");
        foreach (var r in revisions)
        {
            text.Sample("trellis_revision_cpu_seconds_total", Labels(r), r.CpuSeconds);
        }

        text.Family("trellis_revision_memory_peak_bytes", "gauge", "Highest peak memory of any of the revision's instances.");
        foreach (var r in revisions)
        {
            text.Sample("trellis_revision_memory_peak_bytes", Labels(r), r.MemoryPeakBytes);
        }

        text.Family("trellis_revision_cold_starts_total", "counter", "Requests that waited in an activator for the revision to get a ready instance.");
        foreach (var r in revisions)
        {
            text.Sample("trellis_revision_cold_starts_total", Labels(r), r.ColdStarts.Count);
        }

        text.Family("trellis_revision_cold_start_duration_seconds", "histogram", "Cold-start requests' time from arrival at the activator to the first response byte.");
        foreach (var r in revisions)
        {
            text.Histogram("trellis_revision_cold_start_duration_seconds", Labels(r), HistogramBuckets.ColdStartSeconds, r.ColdStarts.Counts, r.ColdStarts.SumSeconds);
        }

        text.Family("trellis_instance_requests_total", "counter", "Requests completed by a running revision instance.");
        foreach (var (r, i) in instances)
        {
            text.Sample("trellis_instance_requests_total", Labels(r, i), i.Requests);
        }

        text.Family("trellis_instance_cpu_seconds_total", "counter", "CPU time used by a running revision instance's processes.");
        foreach (var (r, i) in instances)
        {
            text.Sample("trellis_instance_cpu_seconds_total", Labels(r, i), i.CpuSeconds);
        }

        text.Family("trellis_instance_memory_peak_bytes", "gauge", "Peak memory of a running revision instance's processes.");
        foreach (var (r, i) in instances)
        {
            text.Sample("trellis_instance_memory_peak_bytes", Labels(r, i), i.MemoryPeakBytes);
        }

        return text.ToString();
    }

    private static (string, string)[] Labels(RevisionUsage r) =>
        [("namespace", r.Namespace), ("service", r.Service), ("configuration", r.Configuration), ("revision", r.Revision)];

    private static (string, string)[] Labels(RevisionUsage r, InstanceUsage i) =>
        [("namespace", r.Namespace), ("service", r.Service), ("configuration", r.Configuration), ("revision", r.Revision), ("instance", i.Instance)];
}
