using System.Text;
using Trellis.Proxy.Http1;

namespace Trellis.Proxy.Tests.Http1;

public sealed class ChunkedScannerTests
{
    private const string Body = "5;name=value;quoted=\"a b\"\r\nhello\r\n0A\r\n0123456789\r\n1 ;x\r\n!\r\n0\r\nX-Trailer: one\r\nX-Other:two\r\n\r\n";

    [Theory]
    [InlineData("0\r\n\r\n")]
    [InlineData("1\r\na\r\n0\r\n\r\n")]
    [InlineData("00000001\r\na\r\n000\r\n\r\n")]
    [InlineData("f\r\n0123456789abcde\r\n0\r\n\r\n")]
    [InlineData("F\r\n0123456789abcde\r\n0\r\n\r\n")]
    [InlineData("3;ext\r\nabc\r\n0;last\r\n\r\n")]
    [InlineData("3\t;ext\r\nabc\r\n0\r\n\r\n")]
    [InlineData("0\r\nX: y\r\n\r\n")]
    [InlineData(Body)]
    public void Scan_WholeBody_IsDoneAtItsEnd(string body)
    {
        var scanner = default(ChunkedScanner);

        Assert.Equal(body.Length, scanner.Scan(Encoding.ASCII.GetBytes(body)));
        Assert.True(scanner.IsDone);
    }

    [Fact]
    public void Scan_SplitAtEveryPosition_FindsTheSameEndAndLeavesTheNextMessage()
    {
        var bytes = Encoding.ASCII.GetBytes(Body + "HTTP/1.1 200 OK\r\n");
        for (var split = 0; split <= bytes.Length; split++)
        {
            var scanner = default(ChunkedScanner);
            var first = scanner.Scan(bytes.AsSpan(0, split));
            var second = scanner.IsDone ? 0 : scanner.Scan(bytes.AsSpan(split));

            Assert.True(first + second == Body.Length, $"split at {split}: {first} + {second}");
            Assert.True(scanner.IsDone, $"split at {split}");
        }
    }

    [Fact]
    public void Scan_OneByteAtATime_EndsOnTheLastByte()
    {
        var bytes = Encoding.ASCII.GetBytes(Body);
        var scanner = default(ChunkedScanner);
        for (var i = 0; i < bytes.Length; i++)
        {
            Assert.False(scanner.IsDone, $"done early at byte {i}");
            Assert.Equal(1, scanner.Scan(bytes.AsSpan(i, 1)));
        }

        Assert.True(scanner.IsDone);
        Assert.Equal(0, scanner.Scan("more"u8));
    }

    [Theory]
    [InlineData("no size", "\r\nabc\r\n0\r\n\r\n")]
    [InlineData("non-hex size", "g\r\n")]
    [InlineData("size with a sign", "+1\r\na\r\n")]
    [InlineData("size followed by junk", "1x\r\na\r\n")]
    [InlineData("size then a space then more digits", "1 2\r\na\r\n")]
    [InlineData("size ended by a bare LF", "1\na\r\n0\r\n\r\n")]
    [InlineData("extension ended by a bare LF", "1;x\na\r\n0\r\n\r\n")]
    [InlineData("CR not followed by LF", "1\rXa\r\n")]
    [InlineData("data longer than its size", "1\r\nab\r\n0\r\n\r\n")]
    [InlineData("data without its CRLF", "1\r\na0\r\n\r\n")]
    [InlineData("data ended by a bare LF", "1\r\na\n0\r\n\r\n")]
    [InlineData("a size beyond 2^40", "10000000001\r\n")]
    [InlineData("a size that overflows a long", "FFFFFFFFFFFFFFFFFFFF\r\n")]
    [InlineData("last chunk's empty line as a bare LF", "0\r\n\n")]
    [InlineData("trailer line ended by a bare LF", "0\r\nX: y\n\r\n")]
    [InlineData("final CR without LF", "0\r\n\rX")]
    public void Scan_InvalidSyntax_ReturnsMinusOne(string what, string body)
    {
        var scanner = default(ChunkedScanner);

        Assert.True(scanner.Scan(Encoding.ASCII.GetBytes(body)) == -1, what);
        Assert.True(scanner.IsInvalid, what);
    }

    [Fact]
    public void Scan_LargeChunkInPieces_CountsItsDataWithoutLookingAtIt()
    {
        var data = new byte[100_000];
        data.AsSpan().Fill((byte)'\n'); // data bytes are never syntax
        var scanner = default(ChunkedScanner);

        Assert.Equal(7, scanner.Scan("186A0\r\n"u8));
        Assert.Equal(60_000, scanner.Scan(data.AsSpan(0, 60_000)));
        Assert.Equal(40_000, scanner.Scan(data.AsSpan(60_000)));
        Assert.False(scanner.IsDone);
        Assert.Equal(7, scanner.Scan("\r\n0\r\n\r\n"u8));
        Assert.True(scanner.IsDone);
    }
}
