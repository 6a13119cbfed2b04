using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Trellis.Proxy.Tcp;

namespace Trellis.Proxy.Tests.Tcp;

public sealed class TlsClientHelloTests
{
    /// <summary>The first bytes .NET's own TLS client sends for <paramref name="serverName"/> (a real ClientHello).</summary>
    internal static async Task<byte[]> CaptureAsync(string serverName, params string[] alpn)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var server = await listener.AcceptSocketAsync();
        await using var tls = new SslStream(client.GetStream());
        using var abandon = new CancellationTokenSource();
        var handshake = tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            ApplicationProtocols = alpn.Length == 0 ? null : alpn.Select(p => new SslApplicationProtocol(p)).ToList(),
        }, abandon.Token);
        var captured = new List<byte>();
        var buffer = new byte[TlsClientHello.MaxBytes];
        while (TlsClientHello.TryRead(captured.ToArray(), out _) == ClientHelloParse.Incomplete)
        {
            var n = await server.ReceiveAsync(buffer, SocketFlags.None);
            Assert.True(n > 0);
            captured.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        await abandon.CancelAsync();
        server.Close();
        await Assert.ThrowsAnyAsync<Exception>(() => handshake);
        return captured.ToArray();
    }

    [Fact]
    public async Task TryRead_RealClientHello_ServerName()
    {
        var hello = await CaptureAsync("Db.Example.Test");

        Assert.Equal(ClientHelloParse.Complete, TlsClientHello.TryRead(hello, out var name));
        Assert.Equal("db.example.test", name);
        // Every prefix is incomplete, never a wrong answer.
        for (var length = 0; length < hello.Length; length += 7)
        {
            Assert.Equal(ClientHelloParse.Incomplete, TlsClientHello.TryRead(hello.AsSpan(0, length), out var partial));
            Assert.Null(partial);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(false, "h2", "http/1.1")]
    [InlineData(true, "istio")]
    [InlineData(true, "istio-peer-exchange", "istio")]
    [InlineData(true, "h2", "istio-http/1.1")]
    public async Task TryRead_RealClientHello_MeshAlpnToldFromTheApplicationsOwn(bool mesh, params string[] alpn)
    {
        var hello = await CaptureAsync("db.example.test", alpn);

        Assert.Equal(ClientHelloParse.Complete, TlsClientHello.TryRead(hello, out var name, out var meshAlpn));
        Assert.Equal("db.example.test", name);
        Assert.Equal(mesh, meshAlpn);
    }

    [Fact]
    public void TryRead_AlpnListLongerThanItsExtension_NotTls()
    {
        // record(5) + handshake header(4) + version, random, empty session id, one suite, one compression method, then
        // extensions: ALPN (16) whose list claims 9 bytes where 6 are.
        byte[] body = [.. new byte[34], 0, 0, 2, 0x13, 0x01, 1, 0, 0, 10, 0, 16, 0, 6, 0, 9, 5, (byte)'i', (byte)'s', (byte)'t'];
        byte[] hello = [1, 0, 0, (byte)body.Length, .. body];
        byte[] record = [22, 3, 1, 0, (byte)hello.Length, .. hello];

        Assert.Equal(ClientHelloParse.NotTls, TlsClientHello.TryRead(record, out _, out var meshAlpn));
        Assert.False(meshAlpn);
    }

    [Theory]
    [InlineData(new byte[] { (byte)'G', (byte)'E', (byte)'T', (byte)' ', (byte)'/' })]
    [InlineData(new byte[] { 22, 3, 1, 0, 0 })]
    [InlineData(new byte[] { 22, 3, 1, 0, 4, 2, 0, 0, 0 })]
    [InlineData(new byte[] { 22, 3, 1, 0, 6, 1, 0, 0, 2, 3, 3 })]
    public void TryRead_NotAClientHello_NotTls(byte[] data)
    {
        Assert.Equal(ClientHelloParse.NotTls, TlsClientHello.TryRead(data, out var name));
        Assert.Null(name);
    }

    [Theory]
    [InlineData("*", "anything.test", true)]
    [InlineData("*.example.test", "a.example.test", true)]
    [InlineData("*.example.test", "a.b.example.test", true)]
    [InlineData("*.example.test", "example.test", false)]
    [InlineData("a.example.test", "A.Example.Test", true)]
    [InlineData("a.example.test", "b.example.test", false)]
    public void SniMatches_IstioHostPatterns(string pattern, string serverName, bool expected) =>
        Assert.Equal(expected, TcpMatch.SniMatches(pattern, serverName));

    /// <summary>The record header check every sniff shares (PERMISSIVE's mTLS-or-cleartext decides on one or two bytes).</summary>
    [Theory]
    [InlineData(new byte[] { }, null)]
    [InlineData(new byte[] { 0x16, 0x03 }, true)]
    [InlineData(new byte[] { 0x16 }, true)]
    [InlineData(new byte[] { 0x16, 0x01 }, false)]
    [InlineData(new byte[] { (byte)'G', (byte)'E' }, false)]
    [InlineData(new byte[] { (byte)'P', (byte)'R' }, false)] // the h2c preface
    [InlineData(new byte[] { 0x15, 0x03 }, false)] // a TLS alert is no ClientHello
    public void StartsHandshake_FirstBytes_TlsClientHelloOrNot(byte[] first, bool? expected)
    {
        Assert.Equal(expected, TlsClientHello.StartsHandshake(first));
    }

    [Fact]
    public void TryRead_HandshakeTypeWithAnotherVersion_NotTlsAtOnce()
    {
        Assert.Equal(ClientHelloParse.NotTls, TlsClientHello.TryRead([0x16, 0x01], out _));
    }
}
