using Trellis.Proxy.Http2.Hpack;

namespace Trellis.Proxy.Tests.Http2.Hpack;

/// <summary>Malformed blocks: each must throw (the connection then ends with COMPRESSION_ERROR).</summary>
public sealed class HpackDecoderErrorTests
{
    public static TheoryData<string, string> MalformedBlocks => new()
    {
        { "ff", "indexed: prefix all ones, no continuation byte" },
        { "ff80", "indexed: continuation byte with more to come, then the end" },
        { "0f", "literal name index: prefix all ones, then the end" },
        { "ffffffffff0f", "integer above int.MaxValue (127 + 2^32 - 1)" },
        { "ff808080808000", "six continuation bytes, more than an int needs" },
        { "00", "literal name: block ends before the name length" },
        { "000361", "literal name: 3 bytes announced, 1 present" },
        { "00016101", "literal value: 1 byte announced, none present" },
        { "0001617f", "literal value length: prefix all ones, then the end" },
        { "0001617fffffff0f", "string length far beyond the block (2^25 + 126)" },
        { "80", "indexed field with index 0" },
        { "be", "indexed field 62 with an empty dynamic table" },
        { "ff80ffffff07", "indexed field int.MaxValue" },
        { "7e0161", "literal with indexing, name index 62 with an empty dynamic table" },
        { "0f3001", "literal without indexing, name index 63 with an empty dynamic table" },
        { "1f3001", "never indexed, name index 63 with an empty dynamic table" },
        { "8220", "size update after a field" },
        { "3fe21f", "size update to 4097, above the advertised 4096" },
        { "20828220", "size update after fields, even after one at the start" },
        { "3f", "size update: prefix all ones, then the end" },
    };

    [Theory]
    [MemberData(nameof(MalformedBlocks))]
    public void Decode_MalformedBlock_Throws(string hex, string why)
    {
        var decoder = new HpackDecoder(maxTableSize: 4096);

        var exception = Assert.Throws<HpackException>(() => decoder.Decode(Convert.FromHexString(hex), new RecordingSink()));

        Assert.False(string.IsNullOrEmpty(exception.Message), why);
    }

    [Fact]
    public void Decode_IndexOneBeyondDynamicTable_Throws()
    {
        var decoder = new HpackDecoder();
        decoder.Decode(new TestHpackWriter().Literal(LiteralKind.IncrementalIndexing, "a"u8.ToArray(), "b"u8.ToArray()).ToArray(), new RecordingSink());

        var sink = new RecordingSink();
        decoder.Decode(new TestHpackWriter().Indexed(62).ToArray(), sink);

        Assert.Equal([("a", "b")], sink.Fields);
        Assert.Throws<HpackException>(() => decoder.Decode(new TestHpackWriter().Indexed(63).ToArray(), new RecordingSink()));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(4096)]
    public void Decode_SizeUpdateWithinLimit_Applied(int maxSize)
    {
        var decoder = new HpackDecoder(maxTableSize: 4096);

        var result = decoder.Decode(new TestHpackWriter().SizeUpdate(maxSize).ToArray(), new RecordingSink());

        Assert.Equal(HpackResult.Ok, result);
        Assert.Equal(maxSize, decoder.DynamicTable.MaxSize);
    }

    [Fact]
    public void Decode_TwoSizeUpdatesAtStart_BothApplied()
    {
        // §4.2: a smaller then a larger size may both be signalled at the start of one block.
        var decoder = new HpackDecoder();
        decoder.Decode(new TestHpackWriter().Literal(LiteralKind.IncrementalIndexing, "a"u8.ToArray(), "b"u8.ToArray()).ToArray(), new RecordingSink());
        var sink = new RecordingSink();

        decoder.Decode(new TestHpackWriter().SizeUpdate(0).SizeUpdate(4096).Indexed(2).ToArray(), sink);

        Assert.Equal(0, decoder.DynamicTable.Count);
        Assert.Equal(4096, decoder.DynamicTable.MaxSize);
        Assert.Equal([(":method", "GET")], sink.Fields);
    }

    [Fact]
    public void Integer_IntMaxValue_RoundTripsAndOneMoreOverflows()
    {
        var buffer = new byte[HpackInteger.MaxLength];
        var written = HpackInteger.Encode(int.MaxValue, 5, 0, buffer);
        var position = 0;

        Assert.Equal(int.MaxValue, HpackInteger.Decode(buffer.AsSpan(0, written), ref position, 5));
        Assert.Equal(written, position);

        // int.MaxValue + 1 with a 5-bit prefix: 31, then 2^31 - 31 in 7-bit groups.
        byte[] tooLarge = [0x1f, 0xe1, 0xff, 0xff, 0xff, 0x07];
        position = 0;
        Assert.Throws<HpackException>(() => HpackInteger.Decode(tooLarge, ref position, 5));
    }
}
