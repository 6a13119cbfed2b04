using BenchmarkDotNet.Attributes;
using Trellis.Proxy.Telemetry;

namespace Trellis.Benchmarks;

/// <summary>
/// The per-request metrics update: the listener's concurrency tracker and its duration histogram
/// (metering). When the Istio request metrics (counts and histograms by labels) arrive, their update goes here.
/// </summary>
[MemoryDiagnoser]
public class MetricsBenchmarks
{
    private readonly ListenerStats _stats = new();

    [Benchmark]
    public void ListenerRequestCounter() => _stats.RequestReceived();
}
