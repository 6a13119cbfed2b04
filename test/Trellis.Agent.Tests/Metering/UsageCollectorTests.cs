using Trellis.Agent.Metering;
using Trellis.Api.Metering;
using Trellis.Proxy;
using Trellis.Runtime;

namespace Trellis.Agent.Tests.Metering;

public sealed class UsageCollectorTests
{
    private static readonly Dictionary<string, string> Hello = new()
    {
        ["serving.knative.dev/service"] = "hello",
        ["serving.knative.dev/configuration"] = "hello",
        ["serving.knative.dev/revision"] = "hello-00001",
    };

    [Fact]
    public void Collect_InboundDurations_AddUpPerInstanceOutboundIgnored()
    {
        var instances = new List<InstanceStatus> { Instance("a", 10) };
        using var collector = new UsageCollector(new FakeMeter(), () => instances);

        collector.Collect([Durations("a/inbound", "a", 2), Durations("a/outbound", "a", 5)]);
        var usage = Assert.Single(collector.Collect([Durations("a/inbound", "a", 3)]));

        Assert.Equal(("a", "default", "hello", "hello", "hello-00001"), (usage.Instance, usage.Namespace, usage.Service, usage.Configuration, usage.Revision));
        Assert.Equal(5, usage.Requests);
        Assert.Equal(1.5, usage.CpuSeconds);
        Assert.False(usage.Exited);
    }

    [Fact]
    public void Collect_InstanceGone_ReportedExitedUntilDelivered()
    {
        var instances = new List<InstanceStatus> { Instance("a", 10) };
        var meter = new FakeMeter();
        using var collector = new UsageCollector(meter, () => instances);
        collector.Collect([Durations("a/inbound", "a", 4)]);

        instances.Clear();
        var undelivered = Assert.Single(collector.Collect([]));
        var last = Assert.Single(collector.Collect([]));

        Assert.True(last.Exited);
        Assert.Equal(4, last.Requests);
        Assert.Equal(undelivered, last);
        collector.Delivered([last]);
        Assert.Empty(collector.Collect([]));
        Assert.Equal(["a"], meter.Forgotten);
    }

    [Fact]
    public void Collect_NotARevision_NotMetered()
    {
        var instances = new List<InstanceStatus> { Instance("productpage", 10) with { Labels = new Dictionary<string, string> { ["app"] = "productpage" } } };
        using var collector = new UsageCollector(new FakeMeter(), () => instances);

        Assert.Empty(collector.Collect([]));
    }

    private static InstanceStatus Instance(string id, int? pid) =>
        new(id, "hello-00001-deployment", "default", Hello, InstancePhase.Ready, true, pid, 1, new Dictionary<string, int>(), 0, null, null, null, "");

    private static ListenerDurations Durations(string listener, string workload, int requests)
    {
        var counts = new long[HistogramBuckets.RequestDurationSeconds.Count + 1];
        counts[3] = requests;
        return new ListenerDurations(listener, workload, new HistogramCounts(counts, requests * 0.004));
    }

    private sealed class FakeMeter : IInstanceMeter
    {
        public List<string> Forgotten { get; } = [];

        public string Kind => "fake";

        public IReadOnlyDictionary<string, ResourceUsage> Sample(IReadOnlyList<MeteredInstance> instances) =>
            instances.ToDictionary(i => i.Instance, _ => new ResourceUsage(1.5, 1000));

        public void Forget(string instance) => Forgotten.Add(instance);

        public void Dispose()
        {
        }
    }
}
