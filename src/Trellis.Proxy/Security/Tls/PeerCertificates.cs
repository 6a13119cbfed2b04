using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Identity;

namespace Trellis.Proxy.Security.Tls;

/// <summary>The outcome of checking a peer's certificate: its identity, or why it is refused.</summary>
internal readonly record struct PeerVerdict(PeerIdentity? Peer, string? Error)
{
    public static PeerVerdict Refused(string error) => new(null, error);
}

/// <summary>The proxy's side of <see cref="MeshCertificates"/>: the same rule, its verdict as a <see cref="PeerIdentity"/>.</summary>
internal static class PeerCertificates
{
    /// <inheritdoc cref="MeshCertificates.Verify"/>
    public static PeerVerdict Verify(X509Certificate? leaf, X509Chain? presented, X509Certificate2Collection roots, string trustDomain, DateTimeOffset now, bool client)
    {
        var (id, error) = MeshCertificates.Verify(leaf, presented, roots, trustDomain, now, client);
        return id is null ? PeerVerdict.Refused(error!) : new PeerVerdict(new PeerIdentity(id), null);
    }

    /// <summary>Istio's secure naming (<see cref="MeshCertificates.SecureNaming"/>) on a verdict.</summary>
    public static PeerVerdict CheckServer(PeerVerdict verdict, IReadOnlySet<string> expected) =>
        verdict.Peer is { } peer && MeshCertificates.SecureNaming(peer.SpiffeId, expected) is { } refused ? PeerVerdict.Refused(refused) : verdict;
}
