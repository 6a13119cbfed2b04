using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Trellis.Api.Identity;

/// <summary>
/// A workload's private key and the certificate signing request that asks the CA for its identity. The key is made
/// where the workload runs and never leaves it: only the CSR (public key, requested SPIFFE ID, self-signature) goes to
/// the CA, as Istio's node agent does.
/// </summary>
public sealed class WorkloadKey : IDisposable
{
    private WorkloadKey(AsymmetricAlgorithm key, string csrPem)
    {
        Key = key;
        CsrPem = csrPem;
    }

    public AsymmetricAlgorithm Key { get; }

    public string CsrPem { get; }

    public static WorkloadKey Create(SpiffeId identity, KeyAlgorithm algorithm)
    {
        ArgumentNullException.ThrowIfNull(identity);
        CertificateRequest request;
        AsymmetricAlgorithm key;
        if (algorithm == KeyAlgorithm.Rsa2048)
        {
            var rsa = RSA.Create(2048);
            key = rsa;
            request = new CertificateRequest(new X500DistinguishedName(""), rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        }
        else
        {
            var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            key = ec;
            request = new CertificateRequest(new X500DistinguishedName(""), ec, HashAlgorithmName.SHA256);
        }

        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(identity.ToString()));
        request.CertificateExtensions.Add(san.Build(critical: true));
        return new WorkloadKey(key, request.CreateSigningRequestPem());
    }

    /// <summary>The issued chain's leaf with this key, ready for TLS; the rest of the chain in <paramref name="intermediates"/>.</summary>
    public X509Certificate2 WithCertificate(string chainPem, out X509Certificate2Collection intermediates)
    {
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(chainPem);
        using var leaf = chain[0];
        chain.RemoveAt(0);
        intermediates = chain;
        return Key switch
        {
            ECDsa ec => leaf.CopyWithPrivateKey(ec),
            RSA rsa => leaf.CopyWithPrivateKey(rsa),
            _ => throw new InvalidOperationException("unknown key type"),
        };
    }

    public void Dispose() => Key.Dispose();
}
