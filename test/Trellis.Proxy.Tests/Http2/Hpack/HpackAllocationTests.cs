using Trellis.Proxy.Http2.Hpack;

namespace Trellis.Proxy.Tests.Http2.Hpack;

/// <summary>Once warm, decoding allocates nothing: the per-request budget of the HTTP/2 front end.</summary>
public sealed class HpackAllocationTests
{
    // RFC 7541 C.4.1-C.4.3 (requests, Huffman) and C.6.3 (a response with Huffman and evictions).
    private static readonly byte[][] Blocks =
    [
        Convert.FromHexString("828684418cf1e3c2e5f23a6ba0ab90f4ff"),
        Convert.FromHexString("828684be5886a8eb10649cbf"),
        Convert.FromHexString("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"),
    ];

    [Fact]
    public void Decode_HuffmanBlocksAgain_AllocatesNothing()
    {
        var decoder = new HpackDecoder();
        var sink = new CountingSink();
        foreach (var block in Blocks)
        {
            decoder.Decode(block, sink);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 200; i++)
        {
            foreach (var block in Blocks)
            {
                decoder.Decode(block, sink);
            }
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(14 * 201, sink.Count);
    }

    [Fact]
    public void Decode_ResponsesWithEvictionsAgain_AllocatesNothing()
    {
        byte[] response = Convert.FromHexString("88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007");
        byte[] first = Convert.FromHexString("488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3");
        var decoder = new HpackDecoder(maxTableSize: 256);
        var sink = new CountingSink();
        decoder.Decode(first, sink);
        decoder.Decode(response, sink);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 200; i++)
        {
            // The first block re-adds four entries each time, so the table keeps evicting and compacting.
            decoder.Decode(first, sink);
            decoder.Decode(first, sink);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
