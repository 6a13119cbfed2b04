using Trellis.Proxy.Listeners;

namespace Trellis.Proxy.Tests.Security;

public sealed class FirstBytesTests
{
    [Theory]
    [InlineData(new byte[] { }, "NeedMore")]
    [InlineData(new byte[] { 0x16, 0x03 }, "Tls")]
    [InlineData(new byte[] { 0x16 }, "Tls")]
    [InlineData(new byte[] { 0x16, 0x01 }, "Cleartext")]
    [InlineData(new byte[] { (byte)'G', (byte)'E' }, "Cleartext")]
    [InlineData(new byte[] { (byte)'P', (byte)'R' }, "Cleartext")] // the h2c preface
    [InlineData(new byte[] { 0x15, 0x03 }, "Cleartext")] // a TLS alert is no ClientHello
    public void Classify_FirstBytes_TlsClientHelloOrCleartext(byte[] first, string expected)
    {
        Assert.Equal(expected, FirstBytes.Classify(first).ToString());
    }
}
