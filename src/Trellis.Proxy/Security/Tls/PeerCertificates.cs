using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Identity;

namespace Trellis.Proxy.Security.Tls;

/// <summary>The outcome of checking a peer's certificate: its identity, or why it is refused.</summary>
internal readonly record struct PeerVerdict(PeerIdentity? Peer, string? Error)
{
    public static PeerVerdict Refused(string error) => new(null, error);
}

/// <summary>
/// The one rule for accepting a peer's certificate, on both sides of an mTLS connection: it must chain to the trust bundle
/// (only: the system's roots are never trusted), be valid now (the injected clock), carry the TLS usage of its side (client
/// or server authentication), and name exactly one SPIFFE ID in our trust domain. A client also checks secure naming
/// (<see cref="CheckServer"/>). Revocation is not checked: workload certificates live 24 h, as Istio relies on.
/// </summary>
internal static class PeerCertificates
{
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");

    /// <param name="leaf">The certificate the peer presented; null when it presented none.</param>
    /// <param name="presented">The chain the TLS stack built, whose extra store holds the intermediates the peer sent.</param>
    /// <param name="client">True when the peer is the client of the connection (its certificate must allow client authentication).</param>
    public static PeerVerdict Verify(X509Certificate? leaf, X509Chain? presented, X509Certificate2Collection roots, string trustDomain, DateTimeOffset now, bool client)
    {
        if (leaf is null)
        {
            return PeerVerdict.Refused("the peer presented no certificate");
        }

        if (roots.Count == 0)
        {
            return PeerVerdict.Refused("no trust bundle: this proxy holds no roots to check peers against");
        }

        var certificate = leaf as X509Certificate2 ?? new X509Certificate2(leaf);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
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

        if (!chain.Build(certificate))
        {
            var status = chain.ChainStatus.Select(s => s.Status).Where(s => s != X509ChainStatusFlags.NoError).Distinct().ToList();
            return PeerVerdict.Refused(Describe(status, certificate, now));
        }

        if (SpiffeId.FromCertificate(certificate) is not { } id)
        {
            return PeerVerdict.Refused("the certificate carries no single SPIFFE ID (one URI SAN spiffe://...)");
        }

        if (!string.Equals(id.TrustDomain, trustDomain, StringComparison.Ordinal))
        {
            return PeerVerdict.Refused($"{id} is not in trust domain {trustDomain}");
        }

        return new PeerVerdict(new PeerIdentity(id), null);
    }

    /// <summary>Istio's secure naming: the server must be one of the identities that back the destination (none known: any of our trust domain).</summary>
    public static PeerVerdict CheckServer(PeerVerdict verdict, IReadOnlySet<string> expected)
    {
        if (verdict.Peer is not { } peer || expected.Count == 0 || expected.Contains(peer.SpiffeId))
        {
            return verdict;
        }

        return PeerVerdict.Refused($"secure naming: the server is {peer.SpiffeId}, not one of {string.Join(", ", expected.Order(StringComparer.Ordinal))}");
    }

    private static string Describe(List<X509ChainStatusFlags> status, X509Certificate2 certificate, DateTimeOffset now)
    {
        if (status.Contains(X509ChainStatusFlags.NotTimeValid))
        {
            return now >= certificate.NotAfter ? $"the certificate expired at {certificate.NotAfter.ToUniversalTime():O}" : $"the certificate is not valid before {certificate.NotBefore.ToUniversalTime():O}";
        }

        if (status.Contains(X509ChainStatusFlags.UntrustedRoot) || status.Contains(X509ChainStatusFlags.PartialChain))
        {
            return $"the certificate ({certificate.Subject}) is not signed by a root of the trust bundle";
        }

        if (status.Contains(X509ChainStatusFlags.NotValidForUsage))
        {
            return "the certificate is not valid for this side of the connection (extended key usage)";
        }

        return "the certificate chain is not valid: " + string.Join(", ", status);
    }
}
