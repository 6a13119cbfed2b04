using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Identity;
using Trellis.Proxy;
using Trellis.Proxy.Identity;

namespace Trellis.Cli.Roles;

/// <summary>
/// A static proxy's workload identity from files, in Istio's mounted-certificate layout (<c>cert-chain.pem</c>,
/// <c>key.pem</c>, <c>root-cert.pem</c>): the certificate's SPIFFE ID is the identity its listeners may present
/// (<c>identity</c> in the snapshot). For a proxy without an agent (benchmarks, a sidecar run by hand).
/// </summary>
internal static class StaticIdentity
{
    /// <summary>Loads the files into <paramref name="proxy"/>; the error, or null with the identity loaded.</summary>
    public static string? Load(ProxyServer proxy, string directory, out string? identity)
    {
        identity = null;
        try
        {
            var chain = new X509Certificate2Collection();
            chain.ImportFromPem(File.ReadAllText(Path.Combine(directory, "cert-chain.pem")));
            if (chain.Count == 0)
            {
                return "cert-chain.pem holds no certificate";
            }

            var leaf = X509Certificate2.CreateFromPem(chain[0].ExportCertificatePem(), File.ReadAllText(Path.Combine(directory, "key.pem")));
            if (SpiffeId.FromCertificate(leaf) is not { } id)
            {
                return "the certificate of cert-chain.pem carries no single SPIFFE ID";
            }

            chain.RemoveAt(0);
            proxy.Identities.SetTrustBundle(File.ReadAllText(Path.Combine(directory, "root-cert.pem")));
            proxy.Identities.Set(new WorkloadCertificate(id.ToString(), leaf, chain, leaf.NotAfter));
            identity = id.ToString();
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            return e.Message;
        }
    }
}
