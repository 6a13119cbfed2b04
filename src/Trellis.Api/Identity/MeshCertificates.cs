using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Trellis.Api.Identity;

/// <summary>
/// The one rule for accepting a mesh peer's certificate, for every mTLS client and server (the proxies, and the control
/// plane when it delivers events to a workload): it must chain to the trust bundle (only: the system's roots are never
/// trusted), be valid now (the injected clock), carry the TLS usage of its side (client or server authentication), and
/// name exactly one SPIFFE ID in our trust domain. A client then checks secure naming (<see cref="SecureNaming"/>).
/// Revocation is not checked: workload certificates live 24 h, as Istio relies on.
/// </summary>
public static class MeshCertificates
{
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");

    /// <param name="leaf">The certificate the peer presented; null when it presented none.</param>
    /// <param name="presented">The chain the TLS stack built, whose extra store holds the intermediates the peer sent.</param>
    /// <param name="roots">The trust bundle.</param>
    /// <param name="trustDomain">Ours: a peer of another trust domain is refused.</param>
    /// <param name="now">The time the certificate must be valid at.</param>
    /// <param name="client">True when the peer is the client of the connection (its certificate must allow client authentication).</param>
    /// <returns>The peer's SPIFFE ID, or null and why it is refused.</returns>
    public static (SpiffeId? Id, string? Error) Verify(X509Certificate? leaf, X509Chain? presented, X509Certificate2Collection roots, string trustDomain, DateTimeOffset now, bool client)
    {
        if (leaf is null)
        {
            return (null, "the peer presented no certificate");
        }

        if (roots.Count == 0)
        {
            return (null, "no trust bundle: there are no roots to check peers against");
        }

        var certificate = leaf as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(leaf.GetRawCertData());
        if (CheckChain(certificate, presented, roots, now, client) is { } problem)
        {
            return (null, problem);
        }

        if (SpiffeId.FromCertificate(certificate) is not { } id)
        {
            return (null, "the certificate carries no single SPIFFE ID (one URI SAN spiffe://...)");
        }

        return string.Equals(id.TrustDomain, trustDomain, StringComparison.Ordinal)
            ? (id, null)
            : (null, $"{id} is not in trust domain {trustDomain}");
    }

    /// <summary>
    /// Istio's secure naming: a server must be one of the identities that back the destination (none known: any of our
    /// trust domain). Null when <paramref name="server"/> passes, otherwise why not.
    /// </summary>
    public static string? SecureNaming(string server, IReadOnlySet<string> expected) =>
        expected.Count == 0 || expected.Contains(server)
            ? null
            : $"secure naming: the server is {server}, not one of {string.Join(", ", expected.Order(StringComparer.Ordinal))}";

    /// <summary>
    /// The chain part of the rule, shared with TLS origination to servers outside the mesh: <paramref name="certificate"/>
    /// chains to <paramref name="roots"/> (null: the system's roots, for external servers), is valid at
    /// <paramref name="now"/> and allows its side's usage; the peer's intermediates come from <paramref name="presented"/>.
    /// Null when it holds, otherwise why not.
    /// </summary>
    public static string? CheckChain(X509Certificate2 certificate, X509Chain? presented, X509Certificate2Collection? roots, DateTimeOffset now, bool client)
    {
        using var chain = new X509Chain();
        if (roots is not null)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        }

        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        chain.ChainPolicy.ApplicationPolicy.Add(client ? ClientAuth : ServerAuth);
        if (presented is not null)
        {
            chain.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        if (chain.Build(certificate))
        {
            return null;
        }

        var status = chain.ChainStatus.Select(s => s.Status).Where(s => s != X509ChainStatusFlags.NoError).Distinct().ToList();
        return Describe(status, certificate, now, roots is null ? "the system's roots" : "the trust bundle");
    }

    private static string Describe(List<X509ChainStatusFlags> status, X509Certificate2 certificate, DateTimeOffset now, string trusted)
    {
        if (status.Contains(X509ChainStatusFlags.NotTimeValid))
        {
            return now >= certificate.NotAfter ? $"the certificate expired at {certificate.NotAfter.ToUniversalTime():O}" : $"the certificate is not valid before {certificate.NotBefore.ToUniversalTime():O}";
        }

        if (status.Contains(X509ChainStatusFlags.UntrustedRoot) || status.Contains(X509ChainStatusFlags.PartialChain))
        {
            return $"the certificate ({certificate.Subject}) is not signed by a root of {trusted}";
        }

        if (status.Contains(X509ChainStatusFlags.NotValidForUsage))
        {
            return "the certificate is not valid for this side of the connection (extended key usage)";
        }

        return "the certificate chain is not valid: " + string.Join(", ", status);
    }
}
