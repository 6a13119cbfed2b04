using System.Text;
using Trellis.Proxy.Tcp;

namespace Trellis.Proxy.Tests.Tcp;

/// <summary>CONNECT's authority-form target (RFC 9112 §3.2.3): what is a host and port, and what is refused with which reason.</summary>
public sealed class ConnectTargetTests
{
    [Theory]
    [InlineData("api.example.com:443", "api.example.com", 443, false)]
    [InlineData("API.Example.COM:8443", "api.example.com", 8443, false)]
    [InlineData("db:5432", "db", 5432, false)]
    [InlineData("127.0.0.2:443", "127.0.0.2", 443, true)]
    [InlineData("[::1]:443", "::1", 443, true)]
    [InlineData("a-b.c-d.example:1", "a-b.c-d.example", 1, false)]
    [InlineData("x.example:65535", "x.example", 65535, false)]
    public void TryParse_ValidTarget_HostPortAndAddress(string authority, string host, int port, bool literal)
    {
        Assert.True(ConnectTarget.TryParse(Encoding.ASCII.GetBytes(authority), out var target, out var problem), problem);
        Assert.Equal(host, target.Host);
        Assert.Equal(port, target.Port);
        Assert.Equal(literal, target.Address is not null);
    }

    [Theory]
    [InlineData("api.example.com", "no port")]
    [InlineData("api.example.com:", "port")]
    [InlineData(":443", "host")]
    [InlineData("api.example.com:0", "port")]
    [InlineData("api.example.com:65536", "port")]
    [InlineData("api.example.com:+443", "port")]
    [InlineData("api.example.com:443x", "port")]
    [InlineData("user@api.example.com:443", "host")]
    [InlineData("api..example.com:443", "host")]
    [InlineData("-api.example.com:443", "host")]
    [InlineData("api_example.com:443", "host")]
    [InlineData("127.1:443", "host")]
    [InlineData("1.2.3.4.5:443", "host")]
    [InlineData("[zz::1]:443", "IPv6")]
    [InlineData("[127.0.0.1]:443", "IPv6")]
    [InlineData("::1:443", "host")]
    public void TryParse_MalformedTarget_RefusedWithReason(string authority, string reason)
    {
        Assert.False(ConnectTarget.TryParse(Encoding.ASCII.GetBytes(authority), out _, out var problem));
        Assert.Contains(reason, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_Ipv6_Bracketed()
    {
        Assert.True(ConnectTarget.TryParse("[::1]:8443"u8, out var target, out _));
        Assert.Equal("[::1]:8443", target.ToString());
    }
}
