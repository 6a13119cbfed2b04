using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Identity;

namespace Trellis.ControlPlane.Ca;

/// <summary>
/// The CA as the API serves it: nodes join with the join token and get a node certificate; joined nodes ask for
/// workload certificates (and renew their own) with requests signed by their node key. Every answer is a value: the
/// certificate, or the HTTP status and why not. Private keys never come here, only CSRs.
/// </summary>
/// <param name="mayHold">
/// Whether a node may hold a workload identity (namespace, service account), null or why not: the control plane asks
/// <see cref="NodeIdentities"/>; null lets any joined node hold any workload identity (tests of the protocol alone).
/// </param>
public sealed class CaService(CertificateAuthority authority, JoinToken joinToken, CertificatePolicy policy, string source, TimeProvider time, Func<string, string, string, string?>? mayHold = null)
{
    private readonly ConcurrentDictionary<(string Identity, string Node), IssuedCertificate> _issued = new();

    public CertificatePolicy Policy => policy;

    public JoinToken JoinToken => joinToken;

    /// <summary><c>POST /ca/v1/join</c>: a node certificate for <see cref="JoinRequest.Node"/> when the token is right.</summary>
    public (CertificateResponse? Certificate, int Status, string? Error) Join(string? presentedToken, JoinRequest request)
    {
        if (!joinToken.Matches(presentedToken))
        {
            return (null, 401, "a valid join token is required (trellis agent --token)");
        }

        if (!SpiffeId.TryParse($"{SpiffeId.Scheme}{policy.TrustDomain}/trellis/node/{request.Node}", out var id, out var error))
        {
            return (null, 400, "invalid node name: " + error);
        }

        return Issue(request.CsrPem, id, request.Node);
    }

    /// <summary>
    /// <c>POST /ca/v1/certificates</c>: a workload certificate (or the node's own, renewed) for a request signed by a
    /// node certificate this CA issued and that is valid now.
    /// </summary>
    public (CertificateResponse? Certificate, int Status, string? Error) Request(WorkloadCertificateRequest request)
    {
        var (node, problem) = AuthenticateNode(request);
        if (node is null)
        {
            return (null, 401, problem);
        }

        string? asked;
        try
        {
            var csr = CertificateRequest.LoadSigningRequestPem(request.CsrPem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions);
            var uris = SpiffeId.UriNames(csr.CertificateExtensions);
            asked = uris.Count == 1 ? uris[0] : null;
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            return (null, 400, "the CSR is not a valid signed PKCS#10 request: " + e.Message);
        }

        if (asked is null || !SpiffeId.TryParse(asked, out var id))
        {
            return (null, 400, "the CSR must ask for exactly one SPIFFE ID");
        }

        if (id.TrustDomain != policy.TrustDomain)
        {
            return (null, 403, $"{id} is not in trust domain {policy.TrustDomain}");
        }

        // A node may renew its own identity and ask for the workload identities placed on it; never another node's.
        var own = CaProtocol.NodeName(id);
        if (own is not null ? own != node : !id.TryGetWorkload(out _, out _))
        {
            return (null, 403, $"node {node} may not have {id}");
        }

        if (own is null && id.TryGetWorkload(out var ns, out var account) && mayHold?.Invoke(node, ns, account) is { } refused)
        {
            return (null, 403, $"node {node} may not have {id}: {refused}");
        }

        return Issue(request.CsrPem, id, node);
    }

    public TrustBundle Bundle() => new(policy.TrustDomain, authority.Material.RootPem);

    /// <summary>The trust bundle's roots, for the control plane's own mTLS calls (<see cref="OwnIdentity"/>).</summary>
    public X509Certificate2Collection Roots => [authority.Material.Root];

    /// <summary>A certificate for an identity the control plane holds itself (<see cref="OwnIdentity"/>); recorded as node <c>controlplane</c>.</summary>
    public (CertificateResponse? Certificate, int Status, string? Error) IssueOwn(string csrPem, SpiffeId id) => Issue(csrPem, id, OwnNode);

    /// <summary>The node name the control plane's own certificates are recorded under in <c>trellis ca status</c>.</summary>
    public const string OwnNode = "controlplane";

    /// <summary>What <c>trellis ca status</c> shows: the roots, and which workloads hold a certificate that is still valid.</summary>
    public CaStatus Status()
    {
        var now = time.GetUtcNow();
        foreach (var (key, issued) in _issued)
        {
            if (issued.NotAfter <= now)
            {
                _issued.TryRemove(key, out _);
            }
        }

        var material = authority.Material;
        var roots = new List<CaRoot>
        {
            new(material.Root.Subject, material.RootFingerprint, material.Root.NotBefore.ToUniversalTime(), material.Root.NotAfter.ToUniversalTime(), true),
        };
        return new CaStatus(policy.TrustDomain, roots, _issued.Values.OrderBy(i => i.Identity, StringComparer.Ordinal).ThenBy(i => i.Node, StringComparer.Ordinal).ToList(), policy.Lifetime, source);
    }

    private (CertificateResponse?, int, string?) Issue(string csrPem, SpiffeId id, string node)
    {
        var (chain, notAfter, error) = authority.Sign(csrPem, id, policy.Lifetime);
        if (chain is null)
        {
            return (null, 400, error);
        }

        using var leaf = X509Certificate2.CreateFromPem(chain);
        _issued[(id.ToString(), node)] = new IssuedCertificate(id.ToString(), node, leaf.SerialNumber, notAfter, authority.Material.RootFingerprint);
        return (new CertificateResponse(chain, authority.Material.RootPem, notAfter, policy.TrustDomain, policy.Lifetime, policy.RenewalFraction, policy.KeyAlgorithm), 200, null);
    }

    /// <summary>The node a signed request comes from, or null and why it is refused.</summary>
    private (string? Node, string? Problem) AuthenticateNode(WorkloadCertificateRequest request)
    {
        var now = time.GetUtcNow();
        if ((request.Timestamp - now).Duration() > CaProtocol.SignatureWindow)
        {
            return (null, "the request's timestamp is too far from the CA's clock");
        }

        var (node, leaf, problem) = VerifyNodeCertificate(request.NodeCertificatePem);
        using (leaf)
        {
            if (node is null)
            {
                return (null, problem);
            }

            return CaProtocol.Verify(leaf!, CaProtocol.SignedMessage(request.CsrPem, request.Timestamp), request.Signature)
                ? (node, null)
                : (null, "the request's signature does not verify with the node certificate");
        }
    }

    /// <summary>
    /// The node a presented certificate chain (PEM) proves, with its leaf to check a signature against: it must chain to
    /// this CA's root, be valid now and carry a node ID of this trust domain. The one check of a node identity, for the
    /// CA's own requests and for the API's (<c>Auth/NodeAuthenticator</c>).
    /// </summary>
    public (string? Node, X509Certificate2? Leaf, string? Problem) VerifyNodeCertificate(string chainPem)
    {
        var now = time.GetUtcNow();
        var presented = new X509Certificate2Collection();
        try
        {
            presented.ImportFromPem(chainPem);
        }
        catch (CryptographicException e)
        {
            return (null, null, "the node certificate cannot be read: " + e.Message);
        }

        if (presented.Count == 0)
        {
            return (null, null, "a node certificate is required");
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority.Material.Root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.ExtraStore.AddRange(presented);
        var leaf = presented[0];
        if (!chain.Build(leaf))
        {
            leaf.Dispose();
            return (null, null, "the node certificate was not issued by this CA or is not valid now");
        }

        var id = SpiffeId.FromCertificate(leaf);
        var node = id is null || id.TrustDomain != policy.TrustDomain ? null : CaProtocol.NodeName(id);
        if (node is null)
        {
            leaf.Dispose();
            return (null, null, "the certificate is not a node certificate of this trust domain");
        }

        return (node, leaf, null);
    }
}
