using System.Text;
using Trellis.Proxy.Http1;

namespace Trellis.Proxy.Tests.Http1;

public sealed class ResponseHeadTests
{
    private static HeadParse Parse(string text, out ResponseHead head)
    {
        head = new ResponseHead();
        return head.Parse(Encoding.Latin1.GetBytes(text));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 200, 5L, false, false)]
    [InlineData("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 404, 0L, false, false)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200, -1L, true, false)]
    [InlineData("HTTP/1.1 200 OK\r\ntransfer-encoding:  Chunked \r\n\r\n", 200, -1L, true, false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 200, -1L, true, true)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 200, -1L, true, true)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 200, 5L, false, false)]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n", 200, -1L, false, false)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", 200, 5L, false, true)]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\n", 200, 5L, false, true)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 5\r\n\r\n", 200, 5L, false, true)]
    [InlineData("HTTP/1.1 204\r\n\r\n", 204, -1L, false, false)]
    [InlineData("HTTP/1.1 304 \r\nETag: \"x\"\r\n\r\n", 304, -1L, false, false)]
    [InlineData("HTTP/1.1 100 Continue\r\n\r\n", 100, -1L, false, false)]
    [InlineData("HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n", 103, -1L, false, false)]
    [InlineData("HTTP/1.1 599 Whatever it says\r\nContent-Length: 1\r\n\r\n", 599, 1L, false, false)]
    public void Parse_ValidHead_ReadsStatusFramingAndReuse(string text, int status, long contentLength, bool chunked, bool close)
    {
        Assert.Equal(HeadParse.Complete, Parse(text, out var head));

        Assert.Equal(text.Length, head.Length);
        Assert.Equal(status, head.Status);
        Assert.Equal(contentLength, head.ContentLength);
        Assert.Equal(chunked, head.Chunked);
        Assert.Equal(close, head.Close);
    }

    [Theory]
    [InlineData("conflicting Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")]
    [InlineData("Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n")]
    [InlineData("negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("a coding other than chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")]
    [InlineData("chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("HTTP/2 status line", "HTTP/2 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n")]
    [InlineData("two-digit status", "HTTP/1.1 20 OK\r\n\r\n")]
    [InlineData("status below 100", "HTTP/1.1 099 Odd\r\n\r\n")]
    [InlineData("letters in the status", "HTTP/1.1 2x0 OK\r\n\r\n")]
    [InlineData("bare LF after the status line", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n")]
    [InlineData("bare LF after a field", "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n")]
    [InlineData("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n")]
    [InlineData("space before a colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n")]
    public void Parse_MalformedOrUnforwardableHead_IsUnsupported(string what, string text)
    {
        Assert.True(Parse(text, out _) == HeadParse.Unsupported, what);
    }

    [Fact]
    public void Parse_EverySplitPoint_IsIncompleteUntilTheEmptyLine()
    {
        var bytes = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\n"u8.ToArray();
        var head = new ResponseHead();
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.True(head.Parse(bytes.AsSpan(0, length)) == HeadParse.Incomplete, $"prefix of {length} bytes");
        }

        Assert.Equal(HeadParse.Complete, head.Parse(bytes));
    }

    [Fact]
    public void Parse_ReusedForASecondResponse_ForgetsTheFirst()
    {
        var head = new ResponseHead();
        Assert.Equal(HeadParse.Complete, head.Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\nConnection: close\r\n\r\n"u8));

        Assert.Equal(HeadParse.Complete, head.Parse("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n"u8));

        Assert.False(head.Chunked);
        Assert.False(head.Close);
        Assert.Equal(7, head.ContentLength);
    }

    [Theory]
    [InlineData(200, false, true)]
    [InlineData(200, true, false)]
    [InlineData(204, false, false)]
    [InlineData(304, false, false)]
    [InlineData(101, false, false)]
    [InlineData(103, false, false)]
    [InlineData(205, false, true)]
    [InlineData(404, false, true)]
    public void HasBody_ByStatusAndRequestMethod_FollowsRfc9112(int status, bool requestWasHead, bool expected)
    {
        Assert.Equal(HeadParse.Complete, Parse($"HTTP/1.1 {status} X\r\n\r\n", out var head));

        Assert.Equal(expected, head.HasBody(requestWasHead));
    }
}
