using System.Text;
using Trellis.Proxy.Http2.Hpack;

namespace Trellis.Proxy.Tests.Http2.Hpack;

/// <summary>RFC 9113 §6.5.2: past the limit the decoder stops reporting but keeps its table in step.</summary>
public sealed class HpackHeaderListSizeTests
{
    [Fact]
    public void Decode_ListPastLimit_LaterFieldsNotReportedButTableUpdated()
    {
        // "a: b" is 1 + 1 + 32 = 34; "big: <60 x>" is 3 + 60 + 32 = 95; 34 + 95 > 100.
        var decoder = new HpackDecoder(maxHeaderListSize: 100);
        var big = Encoding.ASCII.GetBytes(new string('x', 60));
        var first = new TestHpackWriter()
            .Literal(LiteralKind.WithoutIndexing, "a"u8.ToArray(), "b"u8.ToArray())
            .Literal(LiteralKind.IncrementalIndexing, "big"u8.ToArray(), big, huffmanValue: true)
            .Indexed(2)
            .ToArray();
        var sink = new RecordingSink();

        var result = decoder.Decode(first, sink);

        Assert.Equal(HpackResult.HeaderListTooLarge, result);
        Assert.Equal([("a", "b")], sink.Fields);
        Assert.Equal([("big", new string('x', 60))], RecordingSink.Table(decoder.DynamicTable));

        // The next block refers to the entry added after the limit was hit; alone it fits (95 <= 100).
        var next = new RecordingSink();
        var nextResult = decoder.Decode(new TestHpackWriter().Indexed(62).ToArray(), next);

        Assert.Equal(HpackResult.Ok, nextResult);
        Assert.Equal([("big", new string('x', 60))], next.Fields);
    }

    [Theory]
    [InlineData(68, false, 2)]
    [InlineData(67, true, 1)]
    [InlineData(34, true, 1)]
    [InlineData(33, true, 0)]
    public void Decode_AtAndJustPastLimit_ExactBoundary(int limit, bool tooLarge, int reported)
    {
        // Two fields of 1 + 1 + 32 = 34 each: 68 in all.
        var block = new TestHpackWriter()
            .Literal(LiteralKind.WithoutIndexing, "a"u8.ToArray(), "b"u8.ToArray())
            .Literal(LiteralKind.NeverIndexed, "c"u8.ToArray(), "d"u8.ToArray())
            .ToArray();
        var decoder = new HpackDecoder(maxHeaderListSize: limit);
        var sink = new RecordingSink();

        var result = decoder.Decode(block, sink);

        Assert.Equal(tooLarge ? HpackResult.HeaderListTooLarge : HpackResult.Ok, result);
        Assert.Equal(reported, sink.Fields.Count);
    }

    [Fact]
    public void Decode_EmptyBlockWithZeroLimit_Ok()
    {
        var result = new HpackDecoder(maxHeaderListSize: 0).Decode([], new RecordingSink());

        Assert.Equal(HpackResult.Ok, result);
    }

    [Fact]
    public void Decode_MalformedAfterLimit_StillThrows()
    {
        // Past the limit the rest of the block is still decoded, so errors in it are still found.
        var decoder = new HpackDecoder(maxHeaderListSize: 10);
        var block = new TestHpackWriter().Indexed(2).Indexed(0x7f).ToArray();

        Assert.Throws<HpackException>(() => decoder.Decode(block, new RecordingSink()));
    }
}
