using System.Buffers;
using System.Text;
using Trellis.Proxy.Http2.Hpack;

namespace Trellis.Proxy.Tests.Http2.Hpack;

public sealed class HpackEncoderTests
{
    [Theory]
    [InlineData(200, "88")]
    [InlineData(204, "89")]
    [InlineData(206, "8a")]
    [InlineData(304, "8b")]
    [InlineData(400, "8c")]
    [InlineData(404, "8d")]
    [InlineData(500, "8e")]
    [InlineData(302, "0803333032")]
    [InlineData(100, "0803313030")]
    [InlineData(999, "0803393939")]
    public void WriteStatus_Status_ExactBytes(int status, string hex)
    {
        var output = new ArrayBufferWriter<byte>();

        HpackEncoder.WriteStatus(status, output);

        Assert.Equal(hex, Convert.ToHexStringLower(output.WrittenSpan));
    }

    [Theory]
    [InlineData(99)]
    [InlineData(1000)]
    [InlineData(0)]
    [InlineData(-200)]
    public void WriteStatus_OutsideThreeDigits_Throws(int status) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => HpackEncoder.WriteStatus(status, new ArrayBufferWriter<byte>()));

    [Theory]
    [InlineData("Content-Type", "text/html", "0f1009746578742f68746d6c")] // name index 31 = 15 + 16
    [InlineData("age", "0", "0f060130")] // name index 21
    [InlineData("X-Custom", "v", "0008782d637573746f6d0176")] // literal name, lower-cased
    [InlineData("Server", "", "0f2700")] // name index 54, empty value
    [InlineData("Date", "x", "0f120178")] // name index 33
    public void WriteField_Field_ExactBytes(string name, string value, string hex)
    {
        var output = new ArrayBufferWriter<byte>();

        HpackEncoder.WriteField(Encoding.ASCII.GetBytes(name), Encoding.ASCII.GetBytes(value), output);

        Assert.Equal(hex, Convert.ToHexStringLower(output.WrittenSpan));
    }

    [Theory]
    [InlineData("content-type", "application/json")]
    [InlineData("CONTENT-LENGTH", "12345")]
    [InlineData("Set-Cookie", "a=b; Path=/; HttpOnly")]
    [InlineData("X-Request-Id", "0f8fad5b-d9cb-469f-a165-70867728950e")]
    [InlineData("WWW-Authenticate", "Basic realm=\"x\"")]
    [InlineData("x-MiXeD-123_[@]", "Value With CAPS")]
    [InlineData("", "")]
    [InlineData("accept-encoding", "br")] // the static entry's name, not its value "gzip, deflate"
    public void WriteField_ThenDecode_NameLowerCasedValueIntact(string name, string value)
    {
        var output = new ArrayBufferWriter<byte>();
        HpackEncoder.WriteStatus(302, output);
        HpackEncoder.WriteField(Encoding.ASCII.GetBytes(name), Encoding.ASCII.GetBytes(value), output);
        var decoder = new HpackDecoder();
        var sink = new RecordingSink();

        var result = decoder.Decode(output.WrittenSpan, sink);

        Assert.Equal(HpackResult.Ok, result);
        Assert.Equal([(":status", "302"), (name.ToLowerInvariant(), value)], sink.Fields);
        Assert.Equal(0, decoder.DynamicTable.Count);
    }

    [Theory]
    [InlineData(126)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(16_384)]
    [InlineData(200_000)]
    public void WriteField_LongNameAndValue_MultiByteLengthsRoundTrip(int length)
    {
        var name = Enumerable.Range(0, length).Select(i => (byte)('A' + (i % 26))).ToArray();
        var value = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();
        var output = new ArrayBufferWriter<byte>(1);
        HpackEncoder.WriteField(name, value, output);
        var sink = new RecordingSink();

        new HpackDecoder(maxHeaderListSize: int.MaxValue).Decode(output.WrittenSpan, sink);

        var (decodedName, decodedValue) = Assert.Single(sink.Fields);
        Assert.Equal(Encoding.Latin1.GetString(name).ToLowerInvariant(), decodedName);
        Assert.Equal(Encoding.Latin1.GetString(value), decodedValue);
    }

    [Fact]
    public void WriteField_NonAsciiNameBytes_PassedThrough()
    {
        // Only A-Z change; bytes >= 0x80 (which a validated HTTP/1.1 head never has) are left alone.
        byte[] name = [(byte)'X', 0xC4, (byte)'a', 0xFF];
        var output = new ArrayBufferWriter<byte>();
        HpackEncoder.WriteField(name, "v"u8, output);
        var sink = new RecordingSink();

        new HpackDecoder().Decode(output.WrittenSpan, sink);

        Assert.Equal([("x\u00c4a\u00ff", "v")], sink.Fields);
    }

    [Fact]
    public void WriteField_Warm_AllocatesNothing()
    {
        var output = new ArrayBufferWriter<byte>(4096);
        HpackEncoder.WriteField("Content-Type"u8, "text/plain"u8, output);
        HpackEncoder.WriteField("X-Trace"u8, "abc"u8, output);
        HpackEncoder.WriteStatus(302, output);
        output.ResetWrittenCount();

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            HpackEncoder.WriteStatus(302, output);
            HpackEncoder.WriteField("Content-Type"u8, "text/plain"u8, output);
            HpackEncoder.WriteField("X-Trace"u8, "abc"u8, output);
            output.ResetWrittenCount();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
