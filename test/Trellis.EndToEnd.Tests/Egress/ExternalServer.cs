using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Trellis.EndToEnd.Tests.Egress;

/// <summary>
/// An "external" HTTP/1.1 server on a loopback address of its own (127.0.0.2): outside the mesh, no proxy in front of
/// it. Every request is answered 200 with its name and the Host it was sent, then the connection is closed. With a
/// <c>certificate</c> it is an HTTPS server, and its answer adds the server name the client sent and the subject of the
/// client's certificate, if it presented one (<c>sni=NAME client=SUBJECT</c>).
/// </summary>
public sealed class ExternalServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private readonly X509Certificate2? _certificate;
    private readonly X509Certificate2? _clientCa;

    /// <param name="clientCa">The root a client certificate must chain to (asked for, not required).</param>
    public ExternalServer(string name, IPAddress address, X509Certificate2? certificate = null, X509Certificate2? clientCa = null)
    {
        Name = name;
        _certificate = certificate;
        _clientCa = clientCa;
        _listener = new TcpListener(address, 0);
        _listener.Start();
        Address = address.ToString();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public string Name { get; }

    public string Address { get; }

    public int Port { get; }

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

    private bool ChainsToClientCa(X509Certificate client)
    {
        if (_clientCa is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_clientCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = new X509Certificate2(client);
        return chain.Build(presented);
    }

    private async Task AnswerAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                Stream stream = client.GetStream();
                var tls = "";
                await using var secured = _certificate is null ? null : new SslStream(stream, leaveInnerStreamOpen: false);
                if (secured is not null)
                {
                    await secured.AuthenticateAsServerAsync(
                        new SslServerAuthenticationOptions
                        {
                            ServerCertificate = _certificate,
                            ClientCertificateRequired = true, // asked for, not required: SIMPLE clients send none
                            RemoteCertificateValidationCallback = (_, client, _, _) => client is null || ChainsToClientCa(client),
                        },
                        _stop.Token);
                    tls = $" sni={secured.TargetHostName} client={secured.RemoteCertificate?.Subject}";
                    stream = secured;
                }

                var head = new StringBuilder();
                var buffer = new byte[4096];
                while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var read = await stream.ReadAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    head.Append(Encoding.Latin1.GetString(buffer, 0, read));
                }

                var host = head.ToString().Split("\r\n").FirstOrDefault(l => l.StartsWith("Host:", StringComparison.OrdinalIgnoreCase))?[5..].Trim() ?? "";
                var body = Encoding.UTF8.GetBytes($"{Name} {host}{tls}");
                var response = $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.Latin1.GetBytes(response), _stop.Token);
                await stream.WriteAsync(body, _stop.Token);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
            {
                // the proxy went away; nothing to answer
            }
        }
    }
}
