using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Identity;

namespace Trellis.ControlPlane.Ca;

/// <summary>
/// Signs workload certificates (X.509-SVIDs) from certificate signing requests. The CA decides the identity, never the
/// requester: the CSR proves possession of the key and names the SPIFFE ID it asks for, and the caller (the API that
/// authenticated the agent) says which identity it may have; the two must agree. The issued certificate carries that
/// one URI SAN, is good for client and server authentication, and never outlives the signing certificate.
/// </summary>
public sealed class CertificateAuthority(CaMaterial material, TimeProvider time)
{
    /// <summary>How far back a certificate's validity starts, so a peer whose clock runs a little behind accepts it.</summary>
    internal static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);

    private volatile CaMaterial _material = material;

    /// <summary>What the CA signs with now; a root rotation replaces it (<see cref="RootRotation"/>).</summary>
    public CaMaterial Material => _material;

    internal void Replace(CaMaterial next) => _material = next;

    /// <summary>
    /// A certificate for <paramref name="identity"/> over the key of <paramref name="csrPem"/>, valid for
    /// <paramref name="lifetime"/>; the PEM holds the leaf followed by the CA's chain. Refused (null and why) when the
    /// CSR is malformed, its signature does not verify, its key is weaker than P-256 or RSA-2048, or it asks for
    /// another identity. <paramref name="serving"/> adds the DNS names and addresses a server of the control plane's own
    /// is reached at (the API's certificate): decided by the control plane, never asked for in a CSR.
    /// </summary>
    public (string? ChainPem, DateTimeOffset NotAfter, string? Error) Sign(string csrPem, SpiffeId identity, TimeSpan lifetime, ServingNames? serving = null)
    {
        var material = _material; // one material for the whole certificate, even if a rotation replaces it meanwhile
        CertificateRequest request;
        try
        {
            // Loading checks the CSR's self-signature: the requester holds the key. Its extensions are read only to
            // compare the SAN it asks for; the issued certificate is built here and copies none of them ("unsafe").
            request = CertificateRequest.LoadSigningRequestPem(csrPem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            return (null, default, "the CSR is not a valid signed PKCS#10 request: " + e.Message);
        }

        if (KeyProblem(request.PublicKey) is { } weak)
        {
            return (null, default, weak);
        }

        var asked = SpiffeId.UriNames(request.CertificateExtensions);
        if (asked.Count != 1 || asked[0] != identity.ToString())
        {
            return (null, default, $"the CSR asks for [{string.Join(", ", asked)}]; this caller may only have {identity}");
        }

        var now = time.GetUtcNow();
        var notAfter = Min(now + lifetime, new DateTimeOffset(material.Signer.NotAfter.ToUniversalTime()));
        var leaf = new CertificateRequest(new X500DistinguishedName(""), request.PublicKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(identity.ToString()));
        serving?.AddTo(san);
        // An empty subject makes the SAN critical (RFC 5280 §4.2.1.6), as Istio's certificates have it.
        leaf.CertificateExtensions.Add(new X509Extension(san.Build().Oid!, san.Build().RawData, critical: true));
        leaf.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        leaf.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        leaf.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // serverAuth, clientAuth
        if (material.Signer.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Any())
        {
            // Helps peers pick the issuer when several roots are trusted (rotation); an operator's CA may have no SKI.
            leaf.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(material.Signer, true, false));
        }

        using var issued = leaf.Create(material.Signer.SubjectName, Generator(material.Signer), now - ClockSkew, notAfter, Serial());
        return (issued.ExportCertificatePem() + "\n" + material.ChainPem, notAfter, null);
    }

    /// <summary>
    /// A new self-signed root for <paramref name="trustDomain"/> (ECDSA P-256, ten years, <c>O=&lt;trust domain&gt;</c>),
    /// as istiod makes one on first start when the operator plugs in no CA.
    /// </summary>
    public static CaMaterial CreateSelfSigned(string trustDomain, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var root = RootRequest(trustDomain, key, "Trellis root CA").CreateSelfSigned(now - ClockSkew, now.AddYears(10));
        var pem = root.ExportCertificatePem() + "\n";
        var files = new Dictionary<string, string>
        {
            [CaMaterial.CaCertFile] = pem,
            [CaMaterial.CaKeyFile] = key.ExportPkcs8PrivateKeyPem() + "\n",
            [CaMaterial.RootCertFile] = pem,
            [CaMaterial.CertChainFile] = pem,
        };
        return CaMaterial.Load(files, now, out var errors) ?? throw new InvalidOperationException(string.Join("; ", errors));
    }

    /// <summary>A root CA's request: <c>O=&lt;trust domain&gt;, CN=&lt;name&gt;</c>, CA:TRUE, keyCertSign, and a key identifier.</summary>
    internal static CertificateRequest RootRequest(string trustDomain, ECDsa key, string name)
    {
        var request = new CertificateRequest(new X500DistinguishedName($"O={trustDomain}, CN={name}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request;
    }

    /// <summary>Null when the key is one the mesh accepts: ECDSA on P-256 or P-384, RSA of 2048 bits or more.</summary>
    internal static string? KeyProblem(PublicKey key)
    {
        if (key.GetECDsaPublicKey() is { } ec)
        {
            using (ec)
            {
                var curve = ec.ExportParameters(false).Curve;
                return curve.Oid.Value is "1.2.840.10045.3.1.7" or "1.3.132.0.34" ? null : $"ECDSA curve {curve.Oid.FriendlyName ?? curve.Oid.Value} is not accepted (P-256 or P-384)";
            }
        }

        if (key.GetRSAPublicKey() is { } rsa)
        {
            using (rsa)
            {
                return rsa.KeySize >= 2048 ? null : $"an RSA key of {rsa.KeySize} bits is too weak (2048 or more)";
            }
        }

        return "the CSR's key is neither ECDSA nor RSA";
    }

    private static X509SignatureGenerator Generator(X509Certificate2 signer) =>
        signer.GetECDsaPrivateKey() is { } ec
            ? X509SignatureGenerator.CreateForECDsa(ec)
            : X509SignatureGenerator.CreateForRSA(signer.GetRSAPrivateKey()!, RSASignaturePadding.Pkcs1);

    /// <summary>A positive 128-bit serial number (RFC 5280 asks for at most 20 octets, CA/B for 64 bits of entropy).</summary>
    internal static byte[] Serial()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        return serial;
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
