using System.Text;
using Trellis.Proxy.Capture;

namespace Trellis.Proxy.Tests.Capture;

public sealed class ProtocolSnifferTests
{
    public static TheoryData<string, string> Cases => new()
    {
        { "GET / HTTP/1.1\r\nHost: reviews\r\n", nameof(SniffedProtocol.Http1) },
        { "POST /ratings HTTP/1.1\r\n", nameof(SniffedProtocol.Http1) },
        { "OPTIONS * HTTP/1.1\r\n", nameof(SniffedProtocol.Http1) },
        { "PROPFIND /a HTTP/1.1\r\n", nameof(SniffedProtocol.Http1) },
        { "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", nameof(SniffedProtocol.Http2) },
        { "", nameof(SniffedProtocol.NeedMore) },
        { "GE", nameof(SniffedProtocol.NeedMore) },
        { "OPTIO", nameof(SniffedProtocol.NeedMore) },
        { "PRI * HTTP/2", nameof(SniffedProtocol.NeedMore) },
        { "GETX / HTTP/1.1", nameof(SniffedProtocol.Other) },
        { "get / HTTP/1.1", nameof(SniffedProtocol.Other) },
        { "\u0016\u0003\u0001\u0002\u0000\u0001", nameof(SniffedProtocol.Other) }, // a TLS ClientHello
        { "*1\r\n$4\r\nPING\r\n", nameof(SniffedProtocol.Other) }, // Redis
        { "PRI * HTTP/1.1\r\n", nameof(SniffedProtocol.Other) },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Classify_FirstBytes_TellsTheProtocol(string first, string expected) =>
        Assert.Equal(expected, ProtocolSniffer.Classify(Encoding.Latin1.GetBytes(first)).ToString());

    [Fact]
    public void OriginalDestination_SockaddrIn_ReadsPortAndAddressInNetworkOrder()
    {
        // struct sockaddr_in { AF_INET (host order), port 9080, 10.96.0.10, padding }
        byte[] raw = [2, 0, 0x23, 0x78, 10, 96, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0];

        var endPoint = OriginalDestination.Parse(raw);

        Assert.Equal("10.96.0.10:9080", endPoint.ToString());
    }
}
