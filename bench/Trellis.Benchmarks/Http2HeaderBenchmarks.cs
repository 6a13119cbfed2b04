using BenchmarkDotNet.Attributes;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Http2.Hpack;

namespace Trellis.Benchmarks;

/// <summary>
/// The HTTP/2 fast path's header work per request: decoding a client's request blocks (Huffman
/// strings, indexed and incrementally indexed fields, RFC 7541 C.4's three requests in a row on one
/// connection's table) and encoding an nginx response head as the proxy writes it. Both allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class Http2HeaderBenchmarks
{
    /// <summary>RFC 7541 C.4.1–C.4.3: 4, 5 and 5 fields.</summary>
    internal const int FieldsPerDecode = 14;

    private static readonly byte[][] RequestBlocks =
    [
        Convert.FromHexString("828684418cf1e3c2e5f23a6ba0ab90f4ff"),
        Convert.FromHexString("828684be5886a8eb10649cbf"),
        Convert.FromHexString("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"),
    ];

    private readonly HpackDecoder _decoder = new();
    private readonly CountingSink _sink = new();
    private readonly ResponseHead _response = new();
    private readonly HeadBuilder _block = new(512);

    public Http2HeaderBenchmarks()
    {
        if (_response.Parse(FastPathHeadBenchmarks.ResponseBytes) != HeadParse.Complete)
        {
            throw new InvalidOperationException("the response fixture does not parse");
        }
    }

    /// <summary>Fields decoded; <see cref="FieldsPerDecode"/> when the blocks decode whole.</summary>
    [Benchmark]
    public int DecodeRequests()
    {
        _sink.Count = 0;
        foreach (var block in RequestBlocks)
        {
            _decoder.Decode(block, _sink);
        }

        return _sink.Count;
    }

    /// <summary>The response HEADERS block's length.</summary>
    [Benchmark]
    public int EncodeResponse()
    {
        var head = FastPathHeadBenchmarks.ResponseBytes.AsSpan(0, _response.Length);
        _block.Clear();
        HpackEncoder.WriteStatus(_response.Status, _block);
        foreach (var field in _response.Fields.AsSpan())
        {
            if (!field.IsHopByHop)
            {
                HpackEncoder.WriteField(field.Name(head), field.Value(head), _block);
            }
        }

        return _block.Length;
    }

    private sealed class CountingSink : IHpackSink
    {
        public int Count { get; set; }

        public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value) => Count++;
    }
}
