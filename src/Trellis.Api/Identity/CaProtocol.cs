using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Trellis.Api.Identity;

// The certificate API between agents and the control plane's CA (docs/security.md). An agent joins once with the
// operator's join token and gets a node certificate for a key it made; every later request for a workload
// certificate is signed with that node key, so the join token is sent once and the CA can tell nodes apart.

/// <summary><c>POST /ca/v1/join</c> with <c>Authorization: Bearer &lt;join token&gt;</c>.</summary>
/// <param name="CsrPem">A CSR for the node's SPIFFE ID (<see cref="CaProtocol.NodeId"/>).</param>
public sealed record JoinRequest(string Node, string CsrPem);

/// <summary>An issued certificate: the leaf and the CA chain (PEM), the roots to trust, and how to renew it.</summary>
/// <param name="TrustBundlePem">Every root a peer's certificate may chain to (two during a root rotation).</param>
public sealed record CertificateResponse(
    string CertificateChainPem,
    string TrustBundlePem,
    DateTimeOffset NotAfter,
    string TrustDomain,
    TimeSpan Lifetime,
    double RenewalFraction,
    KeyAlgorithm KeyAlgorithm);

/// <summary>
/// <c>POST /ca/v1/certificates</c>: a workload CSR, sent by a joined node. <paramref name="Signature"/> is the node
/// key's signature (base64) over <see cref="CaProtocol.SignedMessage"/>; <paramref name="NodeCertificatePem"/> is the
/// node certificate the CA issued at join.
/// </summary>
public sealed record WorkloadCertificateRequest(string CsrPem, string NodeCertificatePem, DateTimeOffset Timestamp, string Signature);

/// <summary><c>GET /ca/v1/bundle</c> (public): the trust domain a joining node names itself in, and the roots.</summary>
/// <param name="SigningRoot">
/// The fingerprint of the root new certificates chain to. Agents poll the bundle: when this changes (a root rotation),
/// they renew every certificate at once rather than at half its lifetime.
/// </param>
public sealed record TrustBundle(string TrustDomain, string TrustBundlePem, string? SigningRoot = null);

/// <summary>One certificate the CA issued, as <c>trellis ca status</c> lists it.</summary>
public sealed record IssuedCertificate(string Identity, string Node, string Serial, DateTimeOffset NotAfter, string RootFingerprint);

/// <summary><c>GET /ca/v1/status</c>.</summary>
/// <param name="RotationDropBy">During a root rotation, the latest time the old root is dropped (earlier once no certificate from it is in use).</param>
public sealed record CaStatus(
    string TrustDomain,
    IReadOnlyList<CaRoot> Roots,
    IReadOnlyList<IssuedCertificate> Workloads,
    TimeSpan Lifetime,
    string Source,
    DateTimeOffset? RotationDropBy = null);

/// <param name="KeyPin">What an agent pins this root with (<c>--ca-cert-hash</c>): <see cref="Access.ControlPlaneTrust.Hash"/>.</param>
public sealed record CaRoot(string Subject, string Fingerprint, DateTimeOffset NotBefore, DateTimeOffset NotAfter, bool Signing, string? KeyPin = null);

public static class CaProtocol
{
    /// <summary>How far a signed request's timestamp may be from the CA's clock (a replayed request is refused after it).</summary>
    public static readonly TimeSpan SignatureWindow = TimeSpan.FromMinutes(5);

    /// <summary>A node's identity: <c>spiffe://&lt;trust domain&gt;/trellis/node/&lt;name&gt;</c>; no workload ID has this shape.</summary>
    public static SpiffeId NodeId(string trustDomain, string node) => SpiffeId.Parse($"{SpiffeId.Scheme}{trustDomain}/trellis/node/{node}");

    /// <summary>The node a node ID names, or null when the ID is not a node's.</summary>
    public static string? NodeName(SpiffeId id)
    {
        const string prefix = "/trellis/node/";
        return id.Path.StartsWith(prefix, StringComparison.Ordinal) && id.Path.Length > prefix.Length && id.Path.IndexOf('/', prefix.Length) < 0
            ? id.Path[prefix.Length..]
            : null;
    }

    /// <summary>How a gateway's node name at the CA starts: the CA lets such a node hold the ingress gateway's identity only.</summary>
    public const string GatewayNodePrefix = "gateway-";

    /// <summary>
    /// A gateway proxy's node name at the CA: <see cref="GatewayNodePrefix"/> and its proxy name as one path segment
    /// (<c>gateway/ingress</c> joins as <c>gateway-ingress</c>, <c>edge</c> as <c>gateway-edge</c>).
    /// </summary>
    public static string GatewayNode(string gateway) =>
        GatewayNodePrefix + (gateway.StartsWith("gateway/", StringComparison.Ordinal) ? gateway["gateway/".Length..] : gateway).Replace('/', '-');

    /// <summary>What a node signs: the CSR and the time, so a captured request cannot be replayed later.</summary>
    public static byte[] SignedMessage(string csrPem, DateTimeOffset timestamp) =>
        Encoding.UTF8.GetBytes(csrPem + "\n" + timestamp.ToUniversalTime().ToString("O", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Signs with a node key (ECDSA or RSA), base64.</summary>
    public static string Sign(AsymmetricAlgorithm key, byte[] message) => Convert.ToBase64String(key switch
    {
        ECDsa ec => ec.SignData(message, HashAlgorithmName.SHA256),
        RSA rsa => rsa.SignData(message, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
        _ => throw new ArgumentException("unsupported key type", nameof(key)),
    });

    /// <summary>Whether <paramref name="signature"/> (base64) over <paramref name="message"/> verifies with the certificate's key.</summary>
    public static bool Verify(X509Certificate2 certificate, byte[] message, string signature)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var bytes = new byte[signature.Length];
        if (!Convert.TryFromBase64String(signature, bytes, out var length))
        {
            return false;
        }

        var sig = bytes.AsSpan(0, length);
        using var ec = certificate.GetECDsaPublicKey();
        if (ec is not null)
        {
            return ec.VerifyData(message, sig, HashAlgorithmName.SHA256);
        }

        using var rsa = certificate.GetRSAPublicKey();
        return rsa is not null && rsa.VerifyData(message, sig, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }
}
