namespace Trellis.Api.Metering;

/// <summary><c>GET /serving/v1/usage</c>: metered usage per revision, each with its instances.</summary>
public sealed record UsageView(IReadOnlyList<RevisionUsage> Revisions);

/// <summary>
/// A revision's totals: the sums over all its instances, including those that have exited, and the
/// cold starts every proxy saw for it.
/// </summary>
public sealed record RevisionUsage(
    string Namespace,
    string Service,
    string Configuration,
    string Revision,
    long Requests,
    HistogramCounts Durations,
    double CpuSeconds,
    long MemoryPeakBytes,
    HistogramCounts ColdStarts,
    IReadOnlyList<InstanceUsage> Instances);
