using System.Text;
using Trellis.Proxy.Http1;

namespace Trellis.Proxy.Tests.Http1;

public sealed class RequestHeadTests
{
    private const string Valid = "POST /a/b?x=%20&y=/./ HTTP/1.1\r\nHost: example.com:8080\r\nX-Pad:  \t value with  spaces \t \r\nContent-Length: 3\r\nConnection: keep-alive, close\r\n\r\n";

    private static HeadParse Parse(string text, out RequestHead head)
    {
        head = new RequestHead();
        return head.Parse(Encoding.Latin1.GetBytes(text));
    }

    [Fact]
    public void Parse_ValidHeadFollowedByBody_IsCompleteWithItsLengthAndFields()
    {
        var buffer = Encoding.Latin1.GetBytes(Valid + "abc" + "GET / HTTP/1.1\r\n");
        var head = new RequestHead();

        Assert.Equal(HeadParse.Complete, head.Parse(buffer));

        Assert.Equal(Valid.Length, head.Length);
        Assert.Equal("POST", head.Method(buffer));
        Assert.Equal("/a/b?x=%20&y=/./", Encoding.ASCII.GetString(head.Target(buffer)));
        Assert.Equal("/a/b", Encoding.ASCII.GetString(head.Path(buffer)));
        Assert.Equal("?x=%20&y=/./", Encoding.ASCII.GetString(head.Query(buffer)));
        Assert.Equal("example.com:8080", Encoding.ASCII.GetString(head.Host(buffer)));
        Assert.Equal(3, head.ContentLength);
        Assert.True(head.Close);
        Assert.False(head.IsHead);
        Assert.Equal(4, head.Fields.Count);
    }

    [Fact]
    public void Parse_EverySplitPointOfAValidHead_IsIncompleteUntilTheLastByte()
    {
        var bytes = Encoding.Latin1.GetBytes(Valid);
        var head = new RequestHead();
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.True(head.Parse(bytes.AsSpan(0, length)) == HeadParse.Incomplete, $"prefix of {length} bytes");
        }

        Assert.Equal(HeadParse.Complete, head.Parse(bytes));
    }

    [Fact]
    public void Parse_FieldValues_HaveOwsTrimmedAndOffsetsIntoTheBuffer()
    {
        var buffer = Encoding.Latin1.GetBytes(Valid);
        var head = new RequestHead();
        Assert.Equal(HeadParse.Complete, head.Parse(buffer));

        var pad = head.Fields[head.Fields.IndexOf(buffer, "x-pad")];
        Assert.Equal("X-Pad", Encoding.ASCII.GetString(pad.Name(buffer)));
        Assert.Equal("value with  spaces", Encoding.ASCII.GetString(pad.Value(buffer)));
        Assert.Equal(Valid.IndexOf("X-Pad", StringComparison.Ordinal), pad.LineStart);
        Assert.Equal(Valid.IndexOf("value", StringComparison.Ordinal), pad.ValueStart);
        Assert.Equal(FieldKind.Other, pad.Kind);
        Assert.Equal(FieldKind.Host, head.Fields[0].Kind);
        Assert.Equal(FieldKind.ContentLength, head.Fields[2].Kind);
        Assert.Equal(FieldKind.Connection, head.Fields[3].Kind);
    }

    [Fact]
    public void Parse_EmptyValueAndHeadMethod_AreAccepted()
    {
        Assert.Equal(HeadParse.Complete, Parse("HEAD / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", out var head));
        Assert.True(head.IsHead);
        Assert.Equal(0, head.Fields[1].ValueLength);
        Assert.False(head.Close);
        Assert.Equal(0, head.ContentLength);
    }

    [Fact]
    public void Parse_ReusedForASecondRequest_ForgetsTheFirst()
    {
        var head = new RequestHead();
        Assert.Equal(HeadParse.Complete, head.Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"u8));

        Assert.Equal(HeadParse.Complete, head.Parse("GET /x HTTP/1.1\r\nHost: b\r\n\r\n"u8));

        Assert.Equal(0, head.ContentLength);
        Assert.False(head.Close);
        Assert.Equal(1, head.Fields.Count);
    }

    [Theory]
    [InlineData("bare LF ending the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n")]
    [InlineData("bare LF ending a field", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n")]
    [InlineData("bare LF as the empty line", "GET / HTTP/1.1\r\nHost: a\r\n\n")]
    [InlineData("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n  folded\r\n\r\n")]
    [InlineData("space before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n")]
    [InlineData("tab before the colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n")]
    [InlineData("no field name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n")]
    [InlineData("line without a colon", "GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n")]
    [InlineData("two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n")]
    [InlineData("no Host", "GET / HTTP/1.1\r\nX: y\r\n\r\n")]
    [InlineData("Transfer-Encoding other than chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")]
    [InlineData("two Transfer-Encoding fields", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("Transfer-Encoding beside Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ntransfer-encoding: chunked\r\n\r\n")]
    [InlineData("two Content-Length fields, same value", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n")]
    [InlineData("Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n")]
    [InlineData("Content-Length signed", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n")]
    [InlineData("Content-Length hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\n")]
    [InlineData("Content-Length empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n")]
    [InlineData("Content-Length overflowing", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n")]
    [InlineData("Upgrade", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")]
    [InlineData("Expect other than 100-continue", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: fly\r\n\r\n")]
    [InlineData("HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\n\r\n")]
    [InlineData("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]
    [InlineData("lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("absolute-form target", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("authority-form target of another method", "OPTIONS a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n")]
    [InlineData("CONNECT in HTTP/1.0", "CONNECT a:443 HTTP/1.0\r\nHost: a:443\r\n\r\n")]
    [InlineData("asterisk-form target", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("'%' in the path", "GET /a%2Fb HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("dot segment", "GET /a/../b HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("trailing dot segment", "GET /a/. HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("backslash in the path", "GET /a\\..\\b HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("'\"' in the path", "GET /a\"b HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("'{' in the path", "GET /a{b} HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("'#' in the target", "GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("two spaces after the method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("space after the version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n")]
    [InlineData("empty line before the request", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("non-token method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("non-ASCII in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\u00e9\r\n\r\n")]
    [InlineData("non-ASCII in the target", "GET /caf\u00e9 HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("non-ASCII in a name", "GET / HTTP/1.1\r\nHost: a\r\nX\u00e9: y\r\n\r\n")]
    [InlineData("NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n")]
    [InlineData("CR inside a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n")]
    [InlineData("Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n")]
    [InlineData("Host with userinfo", "GET / HTTP/1.1\r\nHost: evil@a\r\n\r\n")]
    [InlineData("Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n")]
    [InlineData("Host with a comma", "GET / HTTP/1.1\r\nHost: a,b\r\n\r\n")]
    [InlineData("Host with a bad port", "GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n")]
    [InlineData("Host with an empty port", "GET / HTTP/1.1\r\nHost: a:\r\n\r\n")]
    [InlineData("Host that is only a port", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n")]
    [InlineData("Host with a bad IPv6 literal", "GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n")]
    [InlineData("empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n")]
    [InlineData("'<' in the query", "GET /a?b=<c> HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("'%' not starting an escape in the query", "GET /a?b=%zz HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("an escaped unreserved byte in the query", "GET /a?b=%41 HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("an escaped '~' in the query", "GET /a?b=%7e HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("'%' at the end of the query", "GET /a?b=%4 HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("Connection naming Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nConnection: transfer-encoding\r\nContent-Length: 3\r\n\r\n")]
    [InlineData("Connection naming Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Content-Length\r\nContent-Length: 3\r\n\r\n")]
    public void Parse_OutsideTheFastPath_IsUnsupported(string what, string request)
    {
        Assert.True(Parse(request, out _) == HeadParse.Unsupported, what);
    }

    [Theory]
    [InlineData("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", "a:443", false)]
    [InlineData("CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\nProxy-Connection: keep-alive\r\n\r\n", "[::1]:443", false)]
    [InlineData("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 0\r\n\r\n", "a:443", false)]
    [InlineData("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 3\r\n\r\n", "a:443", true)]
    [InlineData("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nTransfer-Encoding: chunked\r\n\r\n", "a:443", true)]
    public void Parse_ConnectHead_ConnectWithTargetAndLength(string request, string target, bool hasContent)
    {
        var head = new RequestHead();
        var bytes = Encoding.Latin1.GetBytes(request + "tls");

        Assert.Equal(HeadParse.Connect, head.Parse(bytes));
        Assert.Equal(target, Encoding.ASCII.GetString(head.Target(bytes)));
        Assert.Equal(request.Length, head.Length);
        Assert.Equal(hasContent, head.ConnectHasContent);
    }

    [Fact]
    public void Parse_ConnectHeadNotYetWhole_Incomplete()
    {
        Assert.Equal(HeadParse.Incomplete, new RequestHead().Parse("CONNECT a:443 HTTP/1.1\r\nHost: a"u8));
    }

    [Theory]
    [InlineData("'%' and dot segments in the query", "GET /a?b=%2F&c=/../x HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("escapes of reserved and non-ASCII bytes in the query", "GET /a?b=%2f%3D%20%C3%A9 HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("sub-delims, '?' and '/' in the query", "GET /a?b=c?d/e!$&'()*+,;=:@~ HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("sub-delims, ':' and '@' in the path", "GET /a:b@c!$&'()*+,;=~_-. HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("dot inside a segment", "GET /a.b/c.d HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("Content-Length at the limit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 65536\r\n\r\n")]
    [InlineData("Content-Length with leading zeros", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n")]
    [InlineData("unknown method", "PURGE / HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("Host with a port", "GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n")]
    [InlineData("Host as an IPv6 literal with a port", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n")]
    [InlineData("Host with odd but valid characters", "GET / HTTP/1.1\r\nHost: a_b~c!$&'()-\r\n\r\n")]
    [InlineData("lower-case host field name", "GET / HTTP/1.1\r\nhost: a\r\n\r\n")]
    [InlineData("Connection naming another field", "GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Hop\r\nX-Hop: 1\r\n\r\n")]
    public void Parse_UnusualButPlainRequests_AreComplete(string what, string request)
    {
        Assert.True(Parse(request, out _) == HeadParse.Complete, what);
    }

    [Fact]
    public void Parse_FieldCountAroundTheLimit_IsUnsupportedOnlyAboveIt()
    {
        string Fields(int count) => string.Concat(Enumerable.Range(0, count).Select(i => $"X-{i}: v\r\n"));

        Assert.Equal(HeadParse.Complete, Parse("GET / HTTP/1.1\r\nHost: a\r\n" + Fields(HeaderFields.MaxFields - 1) + "\r\n", out _));
        Assert.Equal(HeadParse.Unsupported, Parse("GET / HTTP/1.1\r\nHost: a\r\n" + Fields(HeaderFields.MaxFields) + "\r\n", out _));
    }
}
