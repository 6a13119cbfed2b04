namespace Trellis.Api.Metering;

/// <summary>
/// What one proxy (and, for a node proxy, its agent) has metered since it started, posted every
/// second to <c>POST /serving/v1/metering</c>. Every figure is cumulative since the reporter
/// started, so a lost or repeated report changes nothing; <paramref name="Reporter"/> names the
/// proxy and its run (<c>node/local#3f2a…</c>), so a restarted proxy starts new series instead of
/// seeming to go backwards.
/// </summary>
public sealed record MeteringReport(string Reporter, IReadOnlyList<InstanceUsage> Instances, IReadOnlyList<ColdStartUsage> ColdStarts);

/// <summary>
/// One revision instance: requests its inbound listener completed and their durations (request
/// start to response end), CPU-seconds and peak memory of its processes over all its runs.
/// <paramref name="Exited"/>: the instance is gone; this is its last report.
/// </summary>
public sealed record InstanceUsage(
    string Instance,
    string Namespace,
    string Service,
    string Configuration,
    string Revision,
    long Requests,
    HistogramCounts Durations,
    double CpuSeconds,
    long MemoryPeakBytes,
    bool Exited = false);

/// <summary>
/// Requests that found a revision cluster without endpoints, waited in this proxy's activator and
/// were forwarded once an instance was ready: their count is <c>Durations.Count</c>, each timed
/// from arrival to the first response byte.
/// </summary>
public sealed record ColdStartUsage(string Cluster, HistogramCounts Durations);
