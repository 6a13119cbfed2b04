using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Trellis.Api.Identity;
using Trellis.ControlPlane.Ca;
using Trellis.Eventing.Delivery;

namespace Trellis.ControlPlane.Eventing;

/// <summary>
/// How the Broker's deliveries connect (the HTTP client's connect callback): a target that is a mesh workload's inbound
/// listener (<see cref="DeliveryTarget.MeshPeers"/>) gets mTLS as the control plane's own identity, TLS 1.3 with ALPN
/// http/1.1, the server checked by <see cref="MeshCertificates"/> against the trust bundle and secure naming; any other
/// target a plain connection. The request stays <c>http://</c>: as in the mesh, mTLS wraps the application's protocol.
/// A refused handshake is an <see cref="HttpRequestException"/> that says why, which the delivery records as the
/// attempt's failure.
/// </summary>
internal sealed class MeshDeliveryConnector(OwnIdentity? identity, TimeProvider time)
{
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var plain = new NetworkStream(socket, ownsSocket: true);
        if (!context.InitialRequestMessage.Options.TryGetValue(DeliveryTarget.MeshPeersOption, out var peers))
        {
            return plain;
        }

        var endpoint = $"{context.DnsEndPoint.Host}:{context.DnsEndPoint.Port}";
        if (identity is null)
        {
            await plain.DisposeAsync();
            throw new HttpRequestException($"mTLS to {endpoint}: the control plane has no CA to take an identity from");
        }

        var (own, error) = identity.Current();
        if (own is null)
        {
            await plain.DisposeAsync();
            throw new HttpRequestException($"mTLS to {endpoint}: no certificate for {identity.Identity}: {error}");
        }

        string? refused = null;
        var roots = identity.Roots;
        var tls = new SslStream(plain, leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = context.InitialRequestMessage.Headers.Host ?? context.DnsEndPoint.Host,
            ClientCertificateContext = own,
            EnabledSslProtocols = SslProtocols.Tls13,
            CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
            {
                var (server, problem) = MeshCertificates.Verify(certificate, chain, roots, identity.TrustDomain, time.GetUtcNow(), client: false);
                refused = problem ?? MeshCertificates.SecureNaming(server!.ToString(), peers);
                return refused is null;
            },
        };
        try
        {
            await tls.AuthenticateAsClientAsync(options, cancellationToken);
            return tls;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await tls.DisposeAsync();
            throw new HttpRequestException($"mTLS to {endpoint}: {refused ?? e.Message}", e);
        }
    }
}
