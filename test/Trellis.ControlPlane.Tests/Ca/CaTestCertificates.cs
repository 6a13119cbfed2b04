using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Trellis.ControlPlane.Tests.Ca;

/// <summary>Certificates and CSRs made by hand, as an operator's own CA or a workload's agent would make them.</summary>
internal static class CaTestCertificates
{
    public static readonly DateTimeOffset Now = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static string Csr(string? uri, AsymmetricAlgorithm? key = null)
    {
        key ??= ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = key switch
        {
            ECDsa ec => new CertificateRequest(new X500DistinguishedName(""), ec, HashAlgorithmName.SHA256),
            RSA rsa => new CertificateRequest(new X500DistinguishedName(""), rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            _ => throw new ArgumentException("an ECDSA or RSA key", nameof(key)),
        };
        if (uri is not null)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddUri(new Uri(uri));
            request.CertificateExtensions.Add(san.Build(true));
        }

        return request.CreateSigningRequestPem();
    }

    /// <summary>An operator's root and an intermediate signed by it, in the plug-in layout.</summary>
    public static Dictionary<string, string> PluggedIn(bool intermediateIsCa = true)
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootRequest = new CertificateRequest("CN=Operator Root", rootKey, HashAlgorithmName.SHA256);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        rootRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var root = rootRequest.CreateSelfSigned(Now.AddDays(-1), Now.AddYears(5));

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Intermediate, O=cluster.local", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(intermediateIsCa, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.DigitalSignature, true));
        using var intermediate = request.Create(root, Now.AddDays(-1), Now.AddYears(1), [1, 2, 3]);
        var rootPem = root.ExportCertificatePem() + "\n";
        var caPem = intermediate.ExportCertificatePem() + "\n";
        return new Dictionary<string, string>
        {
            ["ca-cert.pem"] = caPem,
            ["ca-key.pem"] = key.ExportPkcs8PrivateKeyPem() + "\n",
            ["root-cert.pem"] = rootPem,
            ["cert-chain.pem"] = caPem + rootPem,
        };
    }

    public static bool Verifies(X509Certificate2 leaf, string rootPem, X509Certificate2Collection intermediates, DateTimeOffset at)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(X509Certificate2.CreateFromPem(rootPem));
        chain.ChainPolicy.ExtraStore.AddRange(intermediates);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = at.UtcDateTime;
        return chain.Build(leaf);
    }
}

/// <summary>A clock standing still at one instant.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

/// <summary>A clock a test moves by hand.</summary>
internal sealed class MovableClock(DateTimeOffset now) : TimeProvider
{
    private DateTimeOffset _now = now;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
