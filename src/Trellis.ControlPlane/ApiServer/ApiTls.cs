using System.Net;
using System.Net.Security;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Trellis.Api.Identity;
using Trellis.ControlPlane.Ca;

namespace Trellis.ControlPlane.ApiServer;

/// <summary>
/// TLS on the API and the push stream (<c>--api-tls</c>), as istiod serves xDS over TLS: the certificate is the control
/// plane's own (<see cref="Identity"/>), issued in-process by its CA for the names clients dial
/// (<see cref="ServingNames"/>), renewed at the policy's renewal point and at once after a root rotation, so clients
/// verify it with the mesh's trust bundle alone (<see cref="Trellis.Api.Access.ControlPlaneTrust"/>). No client
/// certificate is asked for: requests still prove who sends them with a token or a node signature.
/// </summary>
internal sealed class ApiTls(OwnIdentity identity)
{
    /// <summary>The control plane's serving identity: <c>spiffe://&lt;trust domain&gt;/ns/istio-system/sa/trellis-controlplane</c> (istiod's is its own service account).</summary>
    public static SpiffeId Identity(string trustDomain) => SpiffeId.Parse($"{SpiffeId.Scheme}{trustDomain}/ns/istio-system/sa/trellis-controlplane");

    public static ApiTls Create(CaService ca, ControlPlaneOptions options, TimeProvider time) =>
        new(new OwnIdentity(ca, Identity(options.Certificates.TrustDomain), time,
            ServingNames.For([options.ApiEndpoint, options.PushEndpoint, .. Advertised(options)], options.TlsNames)));

    /// <summary>Serves <paramref name="listen"/> over TLS 1.2+ with ALPN <paramref name="protocol"/> only (the API is HTTP/1.1, the push stream HTTP/2).</summary>
    public void Serve(ListenOptions listen, SslApplicationProtocol protocol) =>
        listen.UseHttps(new TlsHandshakeCallbackOptions
        {
            OnConnection = _ =>
            {
                var (context, error) = identity.Current();
                if (context is null)
                {
                    // The CA refused the control plane its own certificate (e.g. an operator CA past its end): fail the
                    // handshake with the reason in the log rather than serve something unverifiable.
                    throw new InvalidOperationException("the API's TLS certificate cannot be issued: " + error);
                }

                return ValueTask.FromResult(new SslServerAuthenticationOptions
                {
                    ServerCertificateContext = context,
                    ApplicationProtocols = [protocol],
                    EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13,
                    ClientCertificateRequired = false,
                });
            },
        });

    private static IEnumerable<IPEndPoint> Advertised(ControlPlaneOptions options) =>
        options.AdvertiseUrl is { } url && IPAddress.TryParse(url.Host.Trim('[', ']'), out var address) ? [new IPEndPoint(address, url.Port)] : [];
}
