using System.Text;
using Trellis.Proxy.Http1;

namespace Trellis.Proxy.Tests.Http1;

public sealed class ChunkedDecoderTests
{
    private const string Body = "5;name=value;quoted=\"a b\"\r\nhello\r\n0A\r\n0123456789\r\n1 ;x\r\n!\r\n0\r\nX-Trailer: one\r\nX-Other:two\r\n\r\n";

    [Theory]
    [InlineData("0\r\n\r\n", "")]
    [InlineData("1\r\na\r\n0\r\n\r\n", "a")]
    [InlineData("00000001\r\na\r\n000\r\n\r\n", "a")]
    [InlineData("f\r\n0123456789abcde\r\n0\r\n\r\n", "0123456789abcde")]
    [InlineData("3;ext\r\nabc\r\n0;last\r\n\r\n", "abc")]
    [InlineData("3\t;ext\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "abcde")]
    [InlineData(Body, "hello0123456789!")]
    public void Decode_WholeBody_DataMovesToTheFront(string body, string data)
    {
        var bytes = Encoding.ASCII.GetBytes(body);
        var decoder = default(ChunkedDecoder);

        var decoded = decoder.Decode(bytes, out var consumed);

        Assert.Equal(data, Encoding.ASCII.GetString(bytes, 0, decoded));
        Assert.Equal(body.Length, consumed);
        Assert.True(decoder.IsDone);
    }

    [Fact]
    public void Decode_SplitAtEveryPosition_SameDataTrailersAndEnd()
    {
        var bytes = Encoding.ASCII.GetBytes(Body + "HTTP/1.1 200 OK\r\n");
        for (var split = 0; split <= bytes.Length; split++)
        {
            var copy = (byte[])bytes.Clone();
            var decoder = default(ChunkedDecoder);
            var first = decoder.Decode(copy.AsSpan(0, split), out var consumedFirst);
            var data = Encoding.ASCII.GetString(copy, 0, first);
            var consumedSecond = 0;
            if (!decoder.IsDone)
            {
                var second = decoder.Decode(copy.AsSpan(split), out consumedSecond);
                data += Encoding.ASCII.GetString(copy, split, second);
            }

            Assert.True(data == "hello0123456789!", $"split at {split}: {data}");
            Assert.True(consumedFirst + consumedSecond == Body.Length, $"split at {split}");
            Assert.True(decoder.IsDone, $"split at {split}");
            Assert.Equal("X-Trailer: one\r\nX-Other:two\r\n\r\n", Encoding.ASCII.GetString(decoder.Trailers));
        }
    }

    [Fact]
    public void Decode_OneByteAtATime_SameDataAndTrailers()
    {
        var bytes = Encoding.ASCII.GetBytes(Body);
        var decoder = default(ChunkedDecoder);
        var data = new StringBuilder();
        for (var i = 0; i < bytes.Length; i++)
        {
            Assert.False(decoder.IsDone, $"done early at byte {i}");
            var decoded = decoder.Decode(bytes.AsSpan(i, 1), out var consumed);
            Assert.Equal(1, consumed);
            data.Append(Encoding.ASCII.GetString(bytes, i, decoded));
        }

        Assert.True(decoder.IsDone);
        Assert.Equal("hello0123456789!", data.ToString());
        Assert.Equal("X-Trailer: one\r\nX-Other:two\r\n\r\n", Encoding.ASCII.GetString(decoder.Trailers));
    }

    [Fact]
    public void Decode_NoTrailers_TrailersEmpty()
    {
        var decoder = default(ChunkedDecoder);

        decoder.Decode("2\r\nab\r\n0\r\n\r\n"u8.ToArray(), out _);

        Assert.True(decoder.IsDone);
        Assert.True(decoder.Trailers.IsEmpty);
    }

    [Fact]
    public void Decode_TrailersParse_AsAHeaderSection()
    {
        var decoder = default(ChunkedDecoder);
        decoder.Decode("0\r\ngrpc-status: 0\r\ngrpc-message: fine\r\n\r\n"u8.ToArray(), out _);
        var fields = new HeaderFields();

        Assert.Equal(decoder.Trailers.Length, fields.Parse(decoder.Trailers, 0));
        Assert.Equal(2, fields.Count);
        Assert.Equal("fine", Encoding.ASCII.GetString(fields[1].Value(decoder.Trailers)));
    }

    [Theory]
    [InlineData("\r\n")]
    [InlineData("x\r\n")]
    [InlineData("-1\r\n")]
    [InlineData("1\na\r\n0\r\n\r\n")]
    [InlineData("1\r\nab\r\n")]
    [InlineData("1\r\na\n0\r\n\r\n")]
    [InlineData("1 2\r\n")]
    [InlineData("0\r\nX: y\n\r\n")]
    [InlineData("0\r\n\n")]
    [InlineData("FFFFFFFFFFFFFFFFFFFF\r\n")]
    public void Decode_BadSyntax_IsInvalid(string body)
    {
        var decoder = default(ChunkedDecoder);

        Assert.Equal(-1, decoder.Decode(Encoding.ASCII.GetBytes(body), out _));
        Assert.True(decoder.IsInvalid);
    }

    [Fact]
    public void Decode_TrailersLargerThanTheLimit_IsInvalid()
    {
        var body = "0\r\nX-Big: " + new string('a', ChunkedDecoder.MaxTrailerSize) + "\r\n\r\n";
        var decoder = default(ChunkedDecoder);

        Assert.Equal(-1, decoder.Decode(Encoding.ASCII.GetBytes(body), out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Decode_TrailerSectionAtTheLimit_FitsAndOneByteMoreIsInvalidAtThatByte(int over)
    {
        // "X: " + value + CRLF + the final CRLF: MaxTrailerSize + over bytes, so the final LF is the one that may not fit.
        var body = "0\r\nX: " + new string('a', ChunkedDecoder.MaxTrailerSize - 7 + over) + "\r\n\r\n";
        var decoder = default(ChunkedDecoder);

        var decoded = decoder.Decode(Encoding.ASCII.GetBytes(body), out var consumed);

        Assert.Equal(over == 0 ? 0 : -1, decoded);
        Assert.Equal(body.Length, consumed);
        Assert.Equal(over == 0, decoder.IsDone);
        Assert.Equal(over == 1, decoder.IsInvalid);
        Assert.True(over == 1 || decoder.Trailers.Length == ChunkedDecoder.MaxTrailerSize);
    }
}
