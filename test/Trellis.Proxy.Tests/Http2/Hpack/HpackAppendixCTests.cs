using Trellis.Proxy.Http2.Hpack;

namespace Trellis.Proxy.Tests.Http2.Hpack;

/// <summary>
/// The examples of RFC 7541 Appendix C, byte for byte, with the dynamic table after each block.
/// C.5 and C.6 assume a 256-byte table, so their decoder advertises 256.
/// </summary>
public sealed class HpackAppendixCTests
{
    private const string Date21 = "Mon, 21 Oct 2013 20:13:21 GMT";
    private const string Date22 = "Mon, 21 Oct 2013 20:13:22 GMT";
    private const string Cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

    private static readonly (string, string)[] Request1 = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")];
    private static readonly (string, string)[] Request2 = [.. Request1, ("cache-control", "no-cache")];
    private static readonly (string, string)[] Request3 = [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"), ("custom-key", "custom-value")];
    private static readonly (string, string)[] Table1 = [(":authority", "www.example.com")];
    private static readonly (string, string)[] Table2 = [("cache-control", "no-cache"), (":authority", "www.example.com")];
    private static readonly (string, string)[] Table3 = [("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")];

    private static readonly (string, string)[] Response1 = [(":status", "302"), ("cache-control", "private"), ("date", Date21), ("location", "https://www.example.com")];
    private static readonly (string, string)[] Response2 = [(":status", "307"), ("cache-control", "private"), ("date", Date21), ("location", "https://www.example.com")];
    private static readonly (string, string)[] Response3 = [(":status", "200"), ("cache-control", "private"), ("date", Date22), ("location", "https://www.example.com"), ("content-encoding", "gzip"), ("set-cookie", Cookie)];
    private static readonly (string, string)[] ResponseTable1 = [("location", "https://www.example.com"), ("date", Date21), ("cache-control", "private"), (":status", "302")];
    private static readonly (string, string)[] ResponseTable2 = [(":status", "307"), ("location", "https://www.example.com"), ("date", Date21), ("cache-control", "private")];
    private static readonly (string, string)[] ResponseTable3 = [("set-cookie", Cookie), ("content-encoding", "gzip"), ("date", Date22)];

    [Theory]
    [InlineData(10, 5, "0a")] // C.1.1
    [InlineData(1337, 5, "1f9a0a")] // C.1.2
    [InlineData(42, 8, "2a")] // C.1.3
    public void Integer_AppendixC1_EncodesAndDecodes(int value, int prefixBits, string hex)
    {
        var expected = Convert.FromHexString(hex);
        var buffer = new byte[HpackInteger.MaxLength];

        var written = HpackInteger.Encode(value, prefixBits, 0, buffer);
        var position = 0;
        var decoded = HpackInteger.Decode(expected, ref position, prefixBits);

        Assert.Equal(expected, buffer[..written]);
        Assert.Equal(value, decoded);
        Assert.Equal(expected.Length, position);
    }

    [Theory]
    [InlineData("400a637573746f6d2d6b65790d637573746f6d2d686561646572", "custom-key", "custom-header", 1, 55)] // C.2.1
    [InlineData("040c2f73616d706c652f70617468", ":path", "/sample/path", 0, 0)] // C.2.2
    [InlineData("100870617373776f726406736563726574", "password", "secret", 0, 0)] // C.2.3
    [InlineData("82", ":method", "GET", 0, 0)] // C.2.4
    public void Decode_AppendixC2_OneFieldAndTable(string hex, string name, string value, int tableCount, int tableSize)
    {
        var decoder = new HpackDecoder();
        var sink = new RecordingSink();

        var result = decoder.Decode(Convert.FromHexString(hex), sink);

        Assert.Equal(HpackResult.Ok, result);
        Assert.Equal([(name, value)], sink.Fields);
        Assert.Equal(tableCount, decoder.DynamicTable.Count);
        Assert.Equal(tableSize, decoder.DynamicTable.Size);
    }

    [Fact]
    public void Decode_AppendixC3_RequestsWithoutHuffman() => AssertSequence(
        4096,
        ("828684410f7777772e6578616d706c652e636f6d", Request1, Table1, 57),
        ("828684be58086e6f2d6361636865", Request2, Table2, 110),
        ("828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565", Request3, Table3, 164));

    [Fact]
    public void Decode_AppendixC4_RequestsWithHuffman() => AssertSequence(
        4096,
        ("828684418cf1e3c2e5f23a6ba0ab90f4ff", Request1, Table1, 57),
        ("828684be5886a8eb10649cbf", Request2, Table2, 110),
        ("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf", Request3, Table3, 164));

    [Fact]
    public void Decode_AppendixC5_ResponsesWithoutHuffmanAndEvictions() => AssertSequence(
        256,
        ("4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d", Response1, ResponseTable1, 222),
        ("4803333037c1c0bf", Response2, ResponseTable2, 222),
        ("88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31", Response3, ResponseTable3, 215));

    [Fact]
    public void Decode_AppendixC6_ResponsesWithHuffmanAndEvictions() => AssertSequence(
        256,
        ("488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3", Response1, ResponseTable1, 222),
        ("4883640effc1c0bf", Response2, ResponseTable2, 222),
        ("88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007", Response3, ResponseTable3, 215));

    [Fact]
    public void Decode_AppendixC5_WithSizeUpdateToSmallerTable_SameResult()
    {
        // The same responses on a decoder that advertised 4096: the first block starts by lowering
        // the table to the 256 bytes the RFC's encoder uses, and evictions then match.
        var decoder = new HpackDecoder(maxTableSize: 4096);
        var update = new TestHpackWriter().SizeUpdate(256).ToArray();
        var first = Convert.FromHexString("4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d");
        var sink = new RecordingSink();

        decoder.Decode([.. update, .. first], sink);
        decoder.Decode(Convert.FromHexString("4803333037c1c0bf"), new RecordingSink());

        Assert.Equal(Response1, sink.Fields);
        Assert.Equal(256, decoder.DynamicTable.MaxSize);
        Assert.Equal(ResponseTable2, RecordingSink.Table(decoder.DynamicTable));
    }

    private static void AssertSequence(int tableSize, params (string Hex, (string, string)[] Fields, (string, string)[] Table, int Size)[] blocks)
    {
        var decoder = new HpackDecoder(maxTableSize: tableSize);
        for (var i = 0; i < blocks.Length; i++)
        {
            var sink = new RecordingSink();

            var result = decoder.Decode(Convert.FromHexString(blocks[i].Hex), sink);

            Assert.Equal(HpackResult.Ok, result);
            Assert.Equal(blocks[i].Fields, sink.Fields);
            Assert.Equal(blocks[i].Table, RecordingSink.Table(decoder.DynamicTable));
            Assert.Equal(blocks[i].Size, decoder.DynamicTable.Size);
        }
    }
}
