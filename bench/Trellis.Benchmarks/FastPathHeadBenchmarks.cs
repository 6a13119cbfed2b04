using System.Text;
using BenchmarkDotNet.Attributes;
using Trellis.Proxy.Http1;

namespace Trellis.Benchmarks;

/// <summary>
/// The fast HTTP/1.1 path's per-request parsing: a browser-ish request head, an nginx response
/// head, following a chunked body to its end, and writing the upstream head (the pipeline's forwarding rules). All
/// work in place and allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class FastPathHeadBenchmarks
{
    internal static readonly byte[] RequestBytes = Encoding.ASCII.GetBytes(
        "GET /api/v1/products/0?page=2 HTTP/1.1\r\nHost: productpage:9080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n" +
        "Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n" +
        "Cookie: session=abc123; theme=dark\r\nx-request-id: 7f0c3c1e-5b7a-4b8e-9f3d-2a1b0c9d8e7f\r\nConnection: keep-alive\r\n\r\n");

    internal static readonly byte[] ResponseBytes = Encoding.ASCII.GetBytes(
        "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 22 Nov 2026 08:05:30 GMT\r\nContent-Type: text/plain\r\n" +
        "Content-Length: 1024\r\nLast-Modified: Sun, 22 Nov 2026 07:56:50 GMT\r\nConnection: keep-alive\r\nETag: \"6b02a042-400\"\r\n" +
        "Accept-Ranges: bytes\r\n\r\n");

    internal static readonly byte[] ChunkedBody = Encoding.ASCII.GetBytes(
        "400\r\n" + new string('a', 1024) + "\r\n10;ext=1\r\n" + new string('b', 16) + "\r\n0\r\nX-Checksum: 42\r\n\r\n");

    private readonly RequestHead _request = new();
    private readonly ResponseHead _response = new();

    /// <summary>The <see cref="HeadParse"/> outcome as an int (the enum is internal); Complete for both fixtures.</summary>
    [Benchmark]
    public int RequestHead() => (int)_request.Parse(RequestBytes);

    [Benchmark]
    public int ResponseHead() => (int)_response.Parse(ResponseBytes);

    private static readonly Func<string> RequestIds = () => "7f0c3c1e";
    private readonly HeadBuilder _upstream = new(4096);
    private readonly RequestHead _parsed = ParsedRequest();
    private readonly Trellis.Proxy.Routing.CompiledRoute _route = Fixtures.RouteTable().Match(Fixtures.Request("productpage:9080", "/api/v1/products/0")).Route!;
    private readonly Trellis.Proxy.Routing.HeaderOperations _operations = Trellis.Proxy.Routing.HeaderOperations.Create(new Trellis.Api.Snapshots.HeaderOperationsConfig(
        Set: new Dictionary<string, string> { ["x-version"] = "v1" }, Add: new Dictionary<string, string> { ["x-trace"] = "bench" }, Remove: ["x-debug"]))!;

    /// <summary>The upstream head every engine writes (the forwarding rules and the route's header operations), in bytes.</summary>
    [Benchmark]
    public int UpstreamHead()
    {
        var client = new ClientRequest("productpage:9080", "/api/v1/products/0", "10.0.0.9", "http", RequestIds);
        UpstreamHeadWriter.Write(_upstream, _parsed, RequestBytes, client, _route, null, _operations);
        return _upstream.Length;
    }

    private static RequestHead ParsedRequest()
    {
        var head = new RequestHead();
        head.Parse(RequestBytes);
        return head;
    }

    [Benchmark]
    public int ChunkedScan()
    {
        var scanner = default(ChunkedScanner);
        return scanner.Scan(ChunkedBody);
    }
}
