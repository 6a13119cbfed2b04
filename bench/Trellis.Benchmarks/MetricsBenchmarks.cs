using BenchmarkDotNet.Attributes;
using Trellis.Proxy.Telemetry;

namespace Trellis.Benchmarks;

/// <summary>
/// The per-request metrics update. Today the proxy keeps one counter per listener; when the Istio
/// request metrics (counts and duration histograms by labels) arrive, their update goes here.
/// </summary>
[MemoryDiagnoser]
public class MetricsBenchmarks
{
    private readonly ListenerStats _stats = new();

    [Benchmark]
    public void ListenerRequestCounter() => _stats.RequestReceived();
}
