using Trellis.Api.Metering;
using Trellis.ControlPlane.Metering;

namespace Trellis.ControlPlane.Tests.Metering;

public sealed class UsageLedgerTests
{
    private const string Cluster = "outbound|80|hello-00001|hello-00001.default.svc.cluster.local";

    private static (string, string)? RevisionOf(string cluster) => cluster == Cluster ? ("default", "hello-00001") : null;

    private static InstanceUsage Instance(string id, int requests, double cpu, long memory, bool exited = false)
    {
        var counts = new long[HistogramBuckets.RequestDurationSeconds.Count + 1];
        counts[2] = requests;
        return new InstanceUsage(id, "default", "hello", "hello", "hello-00001", requests, new HistogramCounts(counts, requests * 0.002), cpu, memory, exited);
    }

    private static HistogramCounts ColdStarts(int n)
    {
        var counts = new long[HistogramBuckets.ColdStartSeconds.Count + 1];
        counts[4] = n;
        return new HistogramCounts(counts, n * 0.8);
    }

    /// <summary>Instance a exited after 4 requests; b runs with 3; one cold start seen by the gateway.</summary>
    public static UsageView SampleView()
    {
        var ledger = new UsageLedger();
        ledger.Record(new MeteringReport("node/local#1", [Instance("a", 2, 0.5, 40_000_000), Instance("b", 1, 0.1, 30_000_000)], []), RevisionOf);
        ledger.Record(new MeteringReport("node/local#1", [Instance("a", 4, 0.75, 50_000_000, exited: true), Instance("b", 3, 0.25, 35_000_000)], []), RevisionOf);
        ledger.Record(new MeteringReport("gateway/ingress#2", [], [new ColdStartUsage(Cluster, ColdStarts(1))]), RevisionOf);
        return ledger.View(RevisionOf);
    }

    [Fact]
    public void View_InstanceExited_ItsTotalsStayInTheRevisions()
    {
        var revision = Assert.Single(SampleView().Revisions);

        Assert.Equal(("default", "hello", "hello", "hello-00001"), (revision.Namespace, revision.Service, revision.Configuration, revision.Revision));
        Assert.Equal(7, revision.Requests);
        Assert.Equal(1.0, revision.CpuSeconds, 9);
        Assert.Equal(50_000_000, revision.MemoryPeakBytes);
        Assert.Equal(1, revision.ColdStarts.Count);
        Assert.Equal("b", Assert.Single(revision.Instances).Instance);
    }

    [Fact]
    public void Record_ReportAfterExit_NotCountedTwice()
    {
        var ledger = new UsageLedger();
        ledger.Record(new MeteringReport("n#1", [Instance("a", 4, 1, 10, exited: true)], []), RevisionOf);
        ledger.Record(new MeteringReport("n#1", [Instance("a", 4, 1, 10, exited: true)], []), RevisionOf);
        ledger.Record(new MeteringReport("n#1", [Instance("a", 4, 1, 10)], []), RevisionOf);

        var revision = Assert.Single(ledger.View(RevisionOf).Revisions);
        Assert.Equal(4, revision.Requests);
        Assert.Empty(revision.Instances);
    }

    [Fact]
    public void Record_ColdStartsFromTwoProxiesAndRepeatedReports_SummedOncePerProxy()
    {
        var ledger = new UsageLedger();
        ledger.Record(new MeteringReport("gateway#1", [], [new ColdStartUsage(Cluster, ColdStarts(2))]), RevisionOf);
        ledger.Record(new MeteringReport("gateway#1", [], [new ColdStartUsage(Cluster, ColdStarts(3))]), RevisionOf);
        ledger.Record(new MeteringReport("node/local#1", [], [new ColdStartUsage(Cluster, ColdStarts(1)), new ColdStartUsage("not-a-revision", ColdStarts(9))]), RevisionOf);

        var revision = Assert.Single(ledger.View(RevisionOf).Revisions);
        Assert.Equal(4, revision.ColdStarts.Count);
    }

    [Theory]
    [InlineData("default", "hello", 1)]
    [InlineData("default", "other", 0)]
    [InlineData("prod", null, 0)]
    [InlineData(null, null, 1)]
    public void View_Filter_NamespaceAndService(string? ns, string? service, int expected)
    {
        var ledger = new UsageLedger();
        ledger.Record(new MeteringReport("n#1", [Instance("a", 1, 1, 1)], []), RevisionOf);

        Assert.Equal(expected, ledger.View(RevisionOf, ns, service).Revisions.Count);
    }

    [Fact]
    public void Quantile_LinearInsideTheBucket_AsHistogramQuantile()
    {
        // 10 observations in (0.001, 0.0025]: the median interpolates halfway.
        var counts = new long[HistogramBuckets.RequestDurationSeconds.Count + 1];
        counts[2] = 10;
        var histogram = new HistogramCounts(counts, 0);

        Assert.Equal(0.00175, histogram.Quantile(0.5, HistogramBuckets.RequestDurationSeconds)!.Value, 9);
        Assert.Null(HistogramCounts.Empty(3).Quantile(0.5, HistogramBuckets.RequestDurationSeconds));
    }
}
