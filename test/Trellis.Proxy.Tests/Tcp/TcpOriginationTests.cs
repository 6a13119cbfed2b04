using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;
using static Trellis.Proxy.Tests.Tcp.TcpProxyTests;

namespace Trellis.Proxy.Tests.Tcp;

/// <summary>
/// TLS originated by the TCP relay (DestinationRule SIMPLE/MUTUAL on a TCP port, e.g. an external database that takes
/// TLS): the client's cleartext bytes leave the proxy inside TLS checked as HTTP's origination checks it, half-close
/// passed on as close_notify; a server that fails the checks gets no byte.
/// </summary>
public sealed class TcpOriginationTests : IDisposable
{
    private const string Host = "db.external.example";
    private readonly TestPki _pki = new();
    private readonly TestPki _other = new("Another Root CA");

    public void Dispose()
    {
        _pki.Dispose();
        _other.Dispose();
    }

    private static ClusterConfig Cluster(TlsBackend backend, OriginationTlsConfig tls, ClusterTlsMode mode = ClusterTlsMode.Simple) =>
        new("db", [new EndpointConfig("127.0.0.1", backend.Port)], Service: new ServiceMetadata(Host, "db", "default"),
            Tls: new ClusterTlsConfig(mode, [], Origination: tls));

    [Fact]
    public async Task Simple_RelayedBytesInsideTls_AutoSniNoAlpnAndCloseNotify()
    {
        using var certificate = _pki.Server(Host);
        await using var backend = new TlsBackend(certificate);
        await using var server = await StartAsync(Snapshot(To(("db", 100)), Cluster(backend, new OriginationTlsConfig(CaCertificatesPem: _pki.RootPem))));

        // The server answers once it has read the end of the TLS stream: the client's half-close arrived as close_notify.
        Assert.Equal($"sni={Host} alpn= client= data=hello", await ExchangeAsync(server, "hello"));
    }

    [Fact]
    public async Task Mutual_PresentsTheClientCertificate()
    {
        using var certificate = _pki.Server(Host);
        using var client = _pki.Client("client.mesh.example");
        var (pem, key) = TestPki.Pem(client);
        await using var backend = new TlsBackend(certificate);
        var tls = new OriginationTlsConfig(CaCertificatesPem: _pki.RootPem, ClientCertificatePem: pem, PrivateKeyPem: key);
        await using var server = await StartAsync(Snapshot(To(("db", 100)), Cluster(backend, tls, ClusterTlsMode.Mutual)));

        Assert.Equal($"sni={Host} alpn= client=CN=client.mesh.example data=hi", await ExchangeAsync(server, "hi"));
    }

    [Fact]
    public async Task Simple_ServerOfAnotherCaOrName_GetsNoByte()
    {
        using var foreign = _other.Server(Host);
        using var misnamed = _pki.Server("other.example");
        await using var foreignBackend = new TlsBackend(foreign);
        await using var misnamedBackend = new TlsBackend(misnamed);
        var tls = new OriginationTlsConfig(CaCertificatesPem: _pki.RootPem);
        await using var server = await StartAsync(Snapshot(To(("db", 100)), Cluster(foreignBackend, tls)));
        await using var byName = await StartAsync(Snapshot(To(("db", 100)), Cluster(misnamedBackend, tls)));

        Assert.Equal("", await ExchangeAsync(server, "secret"));
        Assert.Equal("", await ExchangeAsync(byName, "secret")); // auto SAN: the certificate must name the host
        Assert.Contains("response_flags=\"UF\"", server.PrometheusMetrics(), StringComparison.Ordinal);
        Assert.Equal(0, foreignBackend.BytesRead + misnamedBackend.BytesRead);
    }

    /// <summary>
    /// A TLS server outside the mesh speaking a raw protocol: reads the TLS stream to its end, then answers with the
    /// server name and ALPN the client sent, the client certificate's subject and the bytes read, and closes.
    /// </summary>
    private sealed class TlsBackend : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly X509Certificate2 _certificate;
        private readonly Task _accepting;
        private int _bytesRead;

        public TlsBackend(X509Certificate2 certificate)
        {
            _certificate = certificate;
            _listener.Start();
            _accepting = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int BytesRead => Volatile.Read(ref _bytesRead);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            try
            {
                await _accepting;
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }

            _stop.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = AnswerAsync(client);
            }
        }

        private async Task AnswerAsync(TcpClient client)
        {
            using (client)
            {
                try
                {
                    await using var tls = new SslStream(client.GetStream());
                    await tls.AuthenticateAsServerAsync(
                        new SslServerAuthenticationOptions
                        {
                            ServerCertificate = _certificate,
                            ClientCertificateRequired = true, // asked for, not required: SIMPLE clients send none
                            RemoteCertificateValidationCallback = (_, presented, _, _) => presented is null || presented.Issuer == "CN=Trellis Test Root CA",
                        },
                        _stop.Token);
                    var all = new MemoryStream();
                    await tls.CopyToAsync(all, _stop.Token);
                    Interlocked.Add(ref _bytesRead, (int)all.Length);
                    var answer = $"sni={tls.TargetHostName} alpn={tls.NegotiatedApplicationProtocol} client={tls.RemoteCertificate?.Subject} data={Encoding.ASCII.GetString(all.ToArray())}";
                    await tls.WriteAsync(Encoding.ASCII.GetBytes(answer), _stop.Token);
                    await tls.ShutdownAsync();
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
                {
                    // the proxy refused the server or went away
                }
            }
        }
    }
}
