using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;

namespace Trellis.Benchmarks;

/// <summary>
/// The allocation budget of the per-request decisions, checked without BenchmarkDotNet so that it
/// runs in seconds: each operation is warmed up (tiering, lazy statics), then called N times while
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/> counts. Route match, endpoint pick and the
/// per-request metering update, the fast path's head parsing and the HTTP/2 path's HPACK work must allocate nothing; header copy on the
/// Kestrel path is reported, not budgeted (it builds an HttpRequestMessage).
/// </summary>
internal static class AllocationBudget
{
    private const int Calls = 100_000;

    public static int Run(TextWriter output)
    {
        var table = Fixtures.RouteTable();
        var requests = new[]
        {
            ("route match: exact host", Fixtures.Request("details:9080", "/details/0")),
            ("route match: path prefix", Fixtures.Request("productpage", "/api/v1/products")),
            ("route match: header", Fixtures.Request("reviews:9080", "/reviews/0", ("end-user", "jason"))),
            ("route match: header miss", Fixtures.Request("reviews:9080", "/reviews/0")),
            ("route match: suffix wildcard", Fixtures.Request("api.example.com", "/")),
            ("route match: no host", Fixtures.Request("unknown:80", "/")),
        };
        var split = table.Match(Fixtures.Request("reviews", "/")).Route!;
        Func<int, int> next = Random.Shared.Next;

        var budgeted = new List<(string Name, Action Call)>();
        foreach (var (name, request) in requests)
        {
            budgeted.Add((name, () => table.Match(request)));
        }

        foreach (var kind in Enum.GetValues<LoadBalancerKind>())
        {
            // Passthrough picks no endpoint (the request goes where the client asked), so it has no policy to measure.
            if (kind == LoadBalancerKind.Passthrough)
            {
                continue;
            }

            var cluster = Fixtures.Cluster(kind.ToString(), kind);
            budgeted.Add(($"endpoint pick: {kind}", () => cluster.PickEndpoint()));
        }

        budgeted.Add(("cluster pick: weighted 90/10", () => split.PickCluster(next)));
        var stats = new Trellis.Proxy.Telemetry.ListenerStats();
        budgeted.Add(("listener stats: count + duration", () => stats.RequestCompleted(0, TimeSpan.FromMilliseconds(3))));
        var heads = new FastPathHeadBenchmarks();
        if (heads.RequestHead() != (int)Trellis.Proxy.Http1.HeadParse.Complete || heads.ResponseHead() != (int)Trellis.Proxy.Http1.HeadParse.Complete
            || heads.ChunkedScan() != FastPathHeadBenchmarks.ChunkedBody.Length)
        {
            throw new InvalidOperationException("the fast-path fixtures no longer parse whole; the budget would measure the wrong work");
        }

        budgeted.Add(("fast path: request head parse", () => heads.RequestHead()));
        budgeted.Add(("fast path: response head parse", () => heads.ResponseHead()));
        budgeted.Add(("fast path: chunked body scan", () => heads.ChunkedScan()));
        budgeted.Add(("pipeline: upstream head write", () => heads.UpstreamHead()));
        var h2 = new Http2HeaderBenchmarks();
        if (h2.DecodeRequests() != Http2HeaderBenchmarks.FieldsPerDecode)
        {
            throw new InvalidOperationException("the HPACK fixtures no longer decode whole; the budget would measure the wrong work");
        }

        budgeted.Add(("HTTP/2: HPACK decode, 3 requests", () => h2.DecodeRequests()));
        budgeted.Add(("HTTP/2: HPACK encode, response head", () => h2.EncodeResponse()));
        budgeted.AddRange(ResilienceBudget.Operations());
        budgeted.AddRange(ResilienceBudget.Picks());
        budgeted.AddRange(TelemetryBudget.Operations());
        budgeted.AddRange(AuthorizationFixtures.Operations());
        budgeted.AddRange(JwtBudget.Operations());
        budgeted.AddRange(MeshTlsBudget.Operations());

        var failed = false;
        output.WriteLine($"{"operation",-36} {"bytes/call",12} {"budget",8}");
        foreach (var (name, call) in budgeted)
        {
            var perCall = Measure(call);
            var over = perCall > 0;
            failed |= over;
            output.WriteLine($"{name,-36} {perCall,12:0.##} {0,8}{(over ? "  OVER BUDGET" : string.Empty)}");
        }

        var headers = new HeaderCopyBenchmarks();
        output.WriteLine($"{"request headers (informational)",-36} {Measure(headers.RequestHeaders),12:0.##} {"-",8}");
        output.WriteLine($"{"response headers (informational)",-36} {Measure(headers.ResponseHeaders),12:0.##} {"-",8}");
        JwtBudget.Report(output, () => table.Match(requests[2].Item2));
        output.WriteLine(failed ? "allocation budget exceeded" : "allocation budget met");
        return failed ? 1 : 0;
    }

    private static double Measure(Action call)
    {
        // Enough warm-up calls for tiered compilation to reach its final code (tier-1 after 30
        // calls plus the backedge/OSR paths), so the measured calls run the code production runs.
        for (var i = 0; i < 20_000; i++)
        {
            call();
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Calls; i++)
        {
            call();
        }

        return (GC.GetAllocatedBytesForCurrentThread() - before) / (double)Calls;
    }
}
