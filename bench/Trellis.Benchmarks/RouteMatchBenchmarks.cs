using BenchmarkDotNet.Attributes;
using Trellis.Proxy.Routing;

namespace Trellis.Benchmarks;

/// <summary>
/// Virtual host lookup plus route match for the request shapes a sidecar sees most. Methods return the
/// matched route (a reference: returning the RouteMatch struct as object would box).
/// </summary>
[MemoryDiagnoser]
public class RouteMatchBenchmarks
{
    private readonly CompiledRouteTable _table = Fixtures.RouteTable();
    private readonly RouteRequest _exactHost = Fixtures.Request("details:9080", "/details/0");
    private readonly RouteRequest _prefix = Fixtures.Request("productpage", "/api/v1/products");
    private readonly RouteRequest _header = Fixtures.Request("reviews:9080", "/reviews/0", ("end-user", "jason"));
    private readonly RouteRequest _fallThrough = Fixtures.Request("reviews:9080", "/reviews/0");
    private readonly RouteRequest _wildcard = Fixtures.Request("api.example.com", "/");
    private readonly RouteRequest _noHost = Fixtures.Request("unknown:80", "/");

    [Benchmark(Baseline = true)]
    public object? ExactHost() => _table.Match(_exactHost).Route;

    [Benchmark]
    public object? PathPrefix() => _table.Match(_prefix).Route;

    [Benchmark]
    public object? HeaderMatch() => _table.Match(_header).Route;

    [Benchmark]
    public object? HeaderMissFallsThrough() => _table.Match(_fallThrough).Route;

    [Benchmark]
    public object? SuffixWildcard() => _table.Match(_wildcard).Route;

    [Benchmark]
    public object? NoVirtualHost() => _table.Match(_noHost).Route;
}
