using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Trellis.ControlPlane.Ca;

/// <summary>
/// Root rotation without an outage. Linkerd's linkerd/linkerd2#4287 is the case to beat: certificates from a new root
/// reached peers that did not trust it yet. Here nothing depends on the order in which peers learn:
/// <list type="bullet">
/// <item>the trust bundle holds the old and the new root from the first moment, so a peer that fetches it trusts both;</item>
/// <item>new certificates are signed by the new root, and their chain carries the new root cross-signed by the old one,
/// so a peer that still holds only the old bundle accepts them too;</item>
/// <item>agents see the signing root change in the bundle they poll and renew every certificate at once.</item>
/// </list>
/// The old root is dropped (<see cref="Finish"/>) once no certificate chaining to it can still be in use
/// (<see cref="CaService"/> decides when).
/// </summary>
public static class RootRotation
{
    /// <summary>
    /// The CA after a rotation begins: a new self-signed root (ECDSA P-256, ten years, a name of its own so chains never
    /// confuse the two), the old root kept as the previous one, and the chain appended to new certificates being the new
    /// root cross-signed by the old. Null and why when this CA cannot rotate: its signer must be its root (a CA of its own,
    /// not an operator's intermediate), and no rotation may be under way.
    /// </summary>
    public static (CaMaterial? Material, string? Error) Begin(CaMaterial current, string trustDomain, DateTimeOffset now)
    {
        if (current.PreviousRoot is not null)
        {
            return (null, $"a root rotation is under way: root {CaMaterial.Fingerprint(current.PreviousRoot)[..16]} is still trusted; it is dropped once no certificate from it is in use");
        }

        if (!current.Signer.RawData.AsSpan().SequenceEqual(current.Root.RawData))
        {
            return (null, "the CA signs with an intermediate of the operator's root: rotate the operator's CA in its --ca-dir files");
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var name = $"Trellis root CA {now.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}";
        using var root = CertificateAuthority.RootRequest(trustDomain, key, name).CreateSelfSigned(now - CertificateAuthority.ClockSkew, now.AddYears(10));

        var cross = CertificateAuthority.RootRequest(trustDomain, key, name);
        if (current.Root.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Any())
        {
            cross.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(current.Root, true, false));
        }

        var crossNotAfter = root.NotAfter < current.Signer.NotAfter ? root.NotAfter : current.Signer.NotAfter;
        using var crossSigned = cross.Create(current.Signer, now - CertificateAuthority.ClockSkew, crossNotAfter, CertificateAuthority.Serial());
        var pem = root.ExportCertificatePem() + "\n";
        var files = new Dictionary<string, string>
        {
            [CaMaterial.CaCertFile] = pem,
            [CaMaterial.CaKeyFile] = key.ExportPkcs8PrivateKeyPem() + "\n",
            [CaMaterial.RootCertFile] = pem,
            [CaMaterial.CertChainFile] = crossSigned.ExportCertificatePem() + "\n",
            [CaMaterial.PreviousRootFile] = current.RootPem,
        };
        var material = CaMaterial.Load(files, now, out var errors);
        return material is null ? (null, "the new root does not load: " + string.Join("; ", errors)) : (material, null);
    }

    /// <summary>The CA once the old root is dropped: the same key and root, its chain the root alone, no previous root.</summary>
    public static CaMaterial Finish(CaMaterial current, DateTimeOffset now)
    {
        var files = current.ToFiles();
        files.Remove(CaMaterial.PreviousRootFile);
        files[CaMaterial.CertChainFile] = current.RootPem;
        return CaMaterial.Load(files, now, out var errors) ?? throw new InvalidOperationException(string.Join("; ", errors));
    }

    /// <summary>When the rotation began: the new root's validity starts one clock skew before it.</summary>
    public static DateTimeOffset Began(CaMaterial material) => new DateTimeOffset(material.Root.NotBefore.ToUniversalTime()) + CertificateAuthority.ClockSkew;
}
