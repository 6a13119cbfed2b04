using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Identity;

namespace Trellis.ControlPlane.Ca;

/// <summary>
/// A workload identity the control plane holds itself, for the calls it makes into the mesh (a Broker delivering to a
/// Kubernetes Service's instance): issued by its own CA in-process, so the key is made here and no CSR travels; renewed
/// with a fresh key at the policy's renewal fraction, or at once after a root rotation, when the next handshake asks for it. It shows in
/// <c>trellis ca status</c> like any workload's certificate (node <c>controlplane</c>). With <paramref name="serving"/> it is
/// also a server certificate for those names (the API's and push stream's TLS, <see cref="ApiServer.ApiTls"/>).
/// </summary>
public sealed class OwnIdentity(CaService ca, SpiffeId identity, TimeProvider time, ServingNames? serving = null)
{
    private readonly Lock _gate = new();
    private (SslStreamCertificateContext Context, DateTimeOffset RenewAt, string Root)? _current;

    public SpiffeId Identity => identity;

    public string TrustDomain => identity.TrustDomain;

    /// <summary>The roots peers are checked against: the CA's trust bundle.</summary>
    public X509Certificate2Collection Roots => ca.Roots;

    /// <summary>The certificate (with its chain) for the next handshake; null, and why, when the CA refuses to issue it.</summary>
    public (SslStreamCertificateContext? Context, string? Error) Current()
    {
        lock (_gate)
        {
            // A root rotation makes the held certificate old at once: renewed from the new root, as agents do.
            if (_current is { } held && time.GetUtcNow() < held.RenewAt && held.Root == ca.SigningRoot)
            {
                return (held.Context, null);
            }

            var root = ca.SigningRoot;
            using var key = WorkloadKey.Create(identity, ca.Policy.KeyAlgorithm);
            var (issued, _, error) = ca.IssueOwn(key.CsrPem, identity, serving);
            if (issued is null)
            {
                return (null, error);
            }

            var leaf = key.WithCertificate(issued.CertificateChainPem, out var intermediates);
            var context = SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
            _current = (context, ca.Policy.RenewAt(time.GetUtcNow(), issued.NotAfter), root);
            return (context, null);
        }
    }
}
