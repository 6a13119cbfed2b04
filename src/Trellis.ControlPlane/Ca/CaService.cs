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
/// <param name="ownDirectory">
/// Where the CA's own root lives (<see cref="CaStore"/>), so a root rotation can replace it there; null for the operator's
/// CA, which is rotated in its own files.
/// </param>
public sealed class CaService(CertificateAuthority authority, JoinToken joinToken, CertificatePolicy policy, string source, TimeProvider time,
    Func<string, string, string, string?>? mayHold = null, string? ownDirectory = null)
{
    private readonly ConcurrentDictionary<(string Identity, string Node), IssuedCertificate> _issued = new();
    private readonly Lock _rotation = new();

    /// <summary>
    /// Since when every certificate this CA issued is in <see cref="_issued"/>: the list is not kept across restarts, so
    /// until a whole lifetime has passed a certificate from before the start may still be in use, unseen.
    /// </summary>
    private readonly DateTimeOffset _seenSince = time.GetUtcNow();

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

    public TrustBundle Bundle()
    {
        var material = FinishRotationIfDone();
        return new(policy.TrustDomain, material.BundlePem, material.RootFingerprint);
    }

    /// <summary>The trust bundle's roots, for the control plane's own mTLS calls (<see cref="OwnIdentity"/>).</summary>
    public X509Certificate2Collection Roots => authority.Material.Roots;

    /// <summary>The fingerprint of the root new certificates chain to (a rotation changes it).</summary>
    public string SigningRoot => authority.Material.RootFingerprint;

    /// <summary>
    /// <c>POST /ca/v1/rotate</c> (<c>trellis ca rotate</c>): begins a root rotation (<see cref="RootRotation"/>). Refused
    /// (409) for the operator's CA and while a rotation is under way. The new CA is on disk before it signs anything.
    /// </summary>
    public (CaStatus? Status, int Code, string? Error) Rotate()
    {
        lock (_rotation)
        {
            if (ownDirectory is null)
            {
                return (null, 409, $"the CA is the operator's ({source}): rotate it by replacing its files");
            }

            var (next, error) = RootRotation.Begin(authority.Material, policy.TrustDomain, time.GetUtcNow());
            if (next is null)
            {
                return (null, 409, error);
            }

            CaStore.Replace(ownDirectory, next.ToFiles());
            authority.Replace(next);
        }

        return (Status(), 200, null);
    }

    /// <summary>
    /// Drops the old root of a rotation once no certificate chaining to it can be in use: every certificate this CA has
    /// seen issued and still valid comes from the new root, and it has seen every certificate that may still be valid; or,
    /// whatever it has seen, once a whole lifetime has passed since the rotation began. Checked whenever the bundle or
    /// the status is read or a certificate issued, so no timer is needed (agents poll the bundle).
    /// </summary>
    private CaMaterial FinishRotationIfDone()
    {
        var material = authority.Material;
        if (material.PreviousRoot is null || ownDirectory is null)
        {
            return material;
        }

        var now = time.GetUtcNow();
        var old = material.PreviousRoot;
        var oldFingerprint = CaMaterial.Fingerprint(old);
        var allSeen = now >= _seenSince + policy.Lifetime;
        var noneOld = _issued.Values.All(i => i.NotAfter <= now || i.RootFingerprint != oldFingerprint);
        if (!(allSeen && noneOld) && now < RootRotation.Began(material) + policy.Lifetime)
        {
            return material;
        }

        lock (_rotation)
        {
            if (!ReferenceEquals(material, authority.Material))
            {
                return authority.Material;
            }

            var finished = RootRotation.Finish(material, now);
            try
            {
                CaStore.Replace(ownDirectory, finished.ToFiles());
            }
            catch (IOException)
            {
                return material; // tried again at the next read; the old root stays trusted meanwhile, which is safe
            }

            authority.Replace(finished);
            return finished;
        }
    }

    /// <summary>A certificate for an identity the control plane holds itself (<see cref="OwnIdentity"/>); recorded as node <c>controlplane</c>.</summary>
    public (CertificateResponse? Certificate, int Status, string? Error) IssueOwn(string csrPem, SpiffeId id, ServingNames? serving = null) => Issue(csrPem, id, OwnNode, serving);

    /// <summary>The node name the control plane's own certificates are recorded under in <c>trellis ca status</c>.</summary>
    public const string OwnNode = "controlplane";

    /// <summary>What <c>trellis ca status</c> shows: the roots, and which workloads hold a certificate that is still valid.</summary>
    public CaStatus Status()
    {
        var material = FinishRotationIfDone();
        var now = time.GetUtcNow();
        foreach (var (key, issued) in _issued)
        {
            if (issued.NotAfter <= now)
            {
                _issued.TryRemove(key, out _);
            }
        }

        var roots = material.Roots.Select(r => new CaRoot(r.Subject, CaMaterial.Fingerprint(r), r.NotBefore.ToUniversalTime(), r.NotAfter.ToUniversalTime(), ReferenceEquals(r, material.Root),
            Trellis.Api.Access.ControlPlaneTrust.Hash(r))).ToList();
        var dropBy = material.PreviousRoot is null ? (DateTimeOffset?)null : RootRotation.Began(material) + policy.Lifetime;
        return new CaStatus(policy.TrustDomain, roots, _issued.Values.OrderBy(i => i.Identity, StringComparer.Ordinal).ThenBy(i => i.Node, StringComparer.Ordinal).ToList(), policy.Lifetime, source, dropBy);
    }

    private (CertificateResponse?, int, string?) Issue(string csrPem, SpiffeId id, string node, ServingNames? serving = null)
    {
        // Read before signing: should a rotation land in between, the certificate is recorded as the old root's, which
        // only delays dropping that root (the safe side).
        var material = authority.Material;
        var (chain, notAfter, error) = authority.Sign(csrPem, id, policy.Lifetime, serving);
        if (chain is null)
        {
            return (null, 400, error);
        }

        using var leaf = X509Certificate2.CreateFromPem(chain);
        _issued[(id.ToString(), node)] = new IssuedCertificate(id.ToString(), node, leaf.SerialNumber, notAfter, material.RootFingerprint);
        return (new CertificateResponse(chain, authority.Material.BundlePem, notAfter, policy.TrustDomain, policy.Lifetime, policy.RenewalFraction, policy.KeyAlgorithm), 200, null);
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
        chain.ChainPolicy.CustomTrustStore.AddRange(authority.Material.Roots);
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
