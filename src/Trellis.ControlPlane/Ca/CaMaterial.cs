using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Trellis.ControlPlane.Ca;

/// <summary>
/// What the CA signs with, in Istio's plug-in CA layout: <c>ca-cert.pem</c> (the signing certificate: the root itself
/// for a self-signed CA, or an intermediate), <c>ca-key.pem</c> (its key), <c>root-cert.pem</c> (the root every
/// workload trusts) and <c>cert-chain.pem</c> (the signing certificate up to the root, appended to every issued
/// certificate so peers can build the path). During a root rotation (<see cref="RootRotation"/>) a fifth file,
/// <c>previous-root-cert.pem</c>, holds the old root, which stays in the trust bundle until it is dropped.
/// </summary>
public sealed class CaMaterial : IDisposable
{
    public const string CaCertFile = "ca-cert.pem";
    public const string CaKeyFile = "ca-key.pem";
    public const string RootCertFile = "root-cert.pem";
    public const string CertChainFile = "cert-chain.pem";
    public const string PreviousRootFile = "previous-root-cert.pem";

    private CaMaterial(X509Certificate2 signer, X509Certificate2 root, X509Certificate2Collection chain, string chainPem, string rootPem, X509Certificate2? previousRoot)
    {
        PreviousRoot = previousRoot;
        Signer = signer;
        Root = root;
        Chain = chain;
        ChainPem = chainPem;
        RootPem = rootPem;
    }

    /// <summary>The signing certificate, with its private key.</summary>
    public X509Certificate2 Signer { get; }

    public X509Certificate2 Root { get; }

    /// <summary>The signing certificate and any intermediates above it, without the root unless the signer is the root.</summary>
    public X509Certificate2Collection Chain { get; }

    /// <summary>PEM of <see cref="Chain"/>, appended to issued certificates.</summary>
    public string ChainPem { get; }

    public string RootPem { get; }

    /// <summary>The root being rotated away from, still trusted; null outside a rotation.</summary>
    public X509Certificate2? PreviousRoot { get; }

    /// <summary>The trust bundle: the root, and the previous root during a rotation.</summary>
    public string BundlePem => PreviousRoot is null ? RootPem : RootPem + PreviousRoot.ExportCertificatePem() + "\n";

    /// <summary>The roots of <see cref="BundlePem"/>, for checking certificates here.</summary>
    public X509Certificate2Collection Roots => PreviousRoot is null ? [Root] : [Root, PreviousRoot];

    /// <summary>SHA-256 of the root's DER: how agents pin the CA when they join, and how rotation tells roots apart.</summary>
    public string RootFingerprint => Fingerprint(Root);

    /// <summary>SHA-256 of a certificate's DER, lower-case hex.</summary>
    public static string Fingerprint(X509Certificate2 certificate) => Convert.ToHexStringLower(SHA256.HashData(certificate.RawData));

    /// <summary>
    /// Reads and checks the layout from <paramref name="files"/> (file name → PEM text). Null with every problem in
    /// <paramref name="errors"/> when the files are missing, unreadable, or do not form a CA: a key that is not the
    /// signing certificate's, a signing certificate that may not sign certificates, a chain that does not reach the root.
    /// </summary>
    public static CaMaterial? Load(IReadOnlyDictionary<string, string> files, DateTimeOffset now, out List<string> errors)
    {
        errors = [];
        foreach (var name in new[] { CaCertFile, CaKeyFile, RootCertFile })
        {
            if (!files.ContainsKey(name))
            {
                errors.Add($"{name} is missing");
            }
        }

        if (errors.Count > 0)
        {
            return null;
        }

        X509Certificate2 signer;
        X509Certificate2 root;
        X509Certificate2? previous = null;
        var chain = new X509Certificate2Collection();
        try
        {
            signer = X509Certificate2.CreateFromPem(files[CaCertFile], files[CaKeyFile]);
            root = X509CertificateLoader.LoadCertificate(PemDer(files[RootCertFile], RootCertFile));
            if (files.TryGetValue(PreviousRootFile, out var previousText))
            {
                previous = X509CertificateLoader.LoadCertificate(PemDer(previousText, PreviousRootFile));
            }

            if (files.TryGetValue(CertChainFile, out var chainText) && chainText.Trim().Length > 0)
            {
                chain.ImportFromPem(chainText);
            }
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or FormatException)
        {
            errors.Add($"cannot read the CA files: {e.Message}");
            return null;
        }

        if (chain.Count == 0 || !chain[0].RawData.AsSpan().SequenceEqual(signer.RawData))
        {
            chain.Insert(0, X509CertificateLoader.LoadCertificate(signer.RawData));
        }

        CheckSigner(signer, now, errors);
        CheckPath(chain, root, now, errors);
        if (errors.Count > 0)
        {
            signer.Dispose();
            root.Dispose();
            previous?.Dispose();
            return null;
        }

        // A self-signed root's chain is the root itself; an intermediate's stops below the root.
        var chainPem = string.Concat(chain.Cast<X509Certificate2>().Where(c => !c.RawData.AsSpan().SequenceEqual(root.RawData) || chain.Count == 1).Select(c => c.ExportCertificatePem() + "\n"));
        return new CaMaterial(signer, root, chain, chainPem, root.ExportCertificatePem() + "\n", previous);
    }

    /// <summary>The layout's files for a CA (what <see cref="CaStore"/> writes).</summary>
    public Dictionary<string, string> ToFiles()
    {
        var key = Signer.GetECDsaPrivateKey()?.ExportPkcs8PrivateKeyPem() ?? Signer.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem();
        var files = new Dictionary<string, string>
        {
            [CaCertFile] = Signer.ExportCertificatePem() + "\n",
            [CaKeyFile] = key + "\n",
            [RootCertFile] = RootPem,
            [CertChainFile] = ChainPem,
        };
        if (PreviousRoot is not null)
        {
            files[PreviousRootFile] = PreviousRoot.ExportCertificatePem() + "\n";
        }

        return files;
    }

    public void Dispose()
    {
        Signer.Dispose();
        Root.Dispose();
        PreviousRoot?.Dispose();
        foreach (var c in Chain)
        {
            c.Dispose();
        }
    }

    private static void CheckSigner(X509Certificate2 signer, DateTimeOffset now, List<string> errors)
    {
        if (!signer.HasPrivateKey)
        {
            errors.Add($"{CaKeyFile} is not the key of {CaCertFile}");
        }

        var constraints = signer.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        if (constraints is not { CertificateAuthority: true })
        {
            errors.Add($"{CaCertFile} is not a CA certificate (basicConstraints CA:TRUE is missing)");
        }

        var usage = signer.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault();
        if (usage is not null && !usage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign))
        {
            errors.Add($"{CaCertFile} may not sign certificates (keyUsage lacks keyCertSign)");
        }

        if (now.UtcDateTime < signer.NotBefore.ToUniversalTime() || now.UtcDateTime > signer.NotAfter.ToUniversalTime())
        {
            errors.Add($"{CaCertFile} is not valid now (valid {signer.NotBefore.ToUniversalTime():u} to {signer.NotAfter.ToUniversalTime():u})");
        }
    }

    /// <summary>The signing certificate must chain, through the given intermediates, to the root.</summary>
    private static void CheckPath(X509Certificate2Collection chain, X509Certificate2 root, DateTimeOffset now, List<string> errors)
    {
        using var verify = new X509Chain();
        verify.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        verify.ChainPolicy.CustomTrustStore.Add(root);
        verify.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        verify.ChainPolicy.VerificationTime = now.UtcDateTime;
        foreach (var c in chain.Cast<X509Certificate2>().Skip(1))
        {
            verify.ChainPolicy.ExtraStore.Add(c);
        }

        if (!verify.Build(chain[0]))
        {
            var why = string.Join("; ", verify.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
            errors.Add($"{CaCertFile} does not chain to {RootCertFile}: {why}");
        }
    }

    private static byte[] PemDer(string pem, string file)
    {
        var fields = PemEncoding.Find(pem);
        return pem[fields.Label] == "CERTIFICATE"
            ? Convert.FromBase64String(pem[fields.Base64Data])
            : throw new FormatException($"{file} does not start with a CERTIFICATE");
    }
}
