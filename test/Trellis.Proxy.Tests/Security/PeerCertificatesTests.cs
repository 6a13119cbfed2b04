using System.Collections.Frozen;
using Trellis.Proxy.Security.Tls;

namespace Trellis.Proxy.Tests.Security;

/// <summary>The one rule for accepting a peer's certificate: chain to the bundle, valid now, one SPIFFE ID in our trust domain; secure naming for servers.</summary>
public sealed class PeerCertificatesTests
{
    private static readonly string Productpage = MeshCa.Id("bookinfo-productpage");
    private static readonly string Reviews = MeshCa.Id("bookinfo-reviews");

    [Fact]
    public void Verify_CertificateOfTheMeshCa_ItsSpiffeId()
    {
        using var ca = new MeshCa();
        var certificate = ca.Issue(Productpage);

        var verdict = PeerCertificates.Verify(certificate.Certificate, null, ca.Roots, MeshCa.TrustDomain, DateTimeOffset.UtcNow, client: true);

        Assert.Null(verdict.Error);
        Assert.Equal((Productpage, "cluster.local/ns/default/sa/bookinfo-productpage"), (verdict.Peer!.SpiffeId, verdict.Peer.Principal));
    }

    [Fact]
    public void Verify_UnknownCaWithAValidLookingSpiffeId_Refused()
    {
        using var ca = new MeshCa();
        using var other = new MeshCa();
        var forged = other.Issue(Productpage);

        var verdict = PeerCertificates.Verify(forged.Certificate, null, ca.Roots, MeshCa.TrustDomain, DateTimeOffset.UtcNow, client: true);

        Assert.Null(verdict.Peer);
        Assert.Contains("not signed by a root of the trust bundle", verdict.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_Expired_Refused()
    {
        using var ca = new MeshCa();
        var expired = ca.Issue(Productpage, TimeSpan.FromHours(1), DateTimeOffset.UtcNow.AddDays(-2));

        var verdict = PeerCertificates.Verify(expired.Certificate, null, ca.Roots, MeshCa.TrustDomain, DateTimeOffset.UtcNow, client: true);

        Assert.Null(verdict.Peer);
        Assert.Contains("expired", verdict.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_AnotherTrustDomain_Refused()
    {
        using var ca = new MeshCa("evil.example");
        var foreign = ca.Issue(MeshCa.Id("bookinfo-productpage", trustDomain: "evil.example"));

        var verdict = PeerCertificates.Verify(foreign.Certificate, null, ca.Roots, MeshCa.TrustDomain, DateTimeOffset.UtcNow, client: true);

        Assert.Null(verdict.Peer);
        Assert.Contains("is not in trust domain cluster.local", verdict.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_NoCertificateOrNoBundle_Refused()
    {
        using var ca = new MeshCa();

        Assert.Equal("the peer presented no certificate", PeerCertificates.Verify(null, null, ca.Roots, MeshCa.TrustDomain, DateTimeOffset.UtcNow, client: true).Error);
        Assert.Contains("no trust bundle", PeerCertificates.Verify(ca.Issue(Reviews).Certificate, null, [], MeshCa.TrustDomain, DateTimeOffset.UtcNow, client: false).Error, StringComparison.Ordinal);
    }

    public static TheoryData<string[], bool> Namings() => new()
    {
        { ["spiffe://cluster.local/ns/default/sa/bookinfo-reviews"], true },
        { ["spiffe://cluster.local/ns/default/sa/bookinfo-details", "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"], true },
        { ["spiffe://cluster.local/ns/default/sa/bookinfo-details"], false },
        { ["spiffe://cluster.local/ns/other/sa/bookinfo-reviews"], false },
        { [], true }, // no identities known for the destination: any workload of the trust domain
    };

    [Theory]
    [MemberData(nameof(Namings))]
    public void CheckServer_SecureNaming_ServerMustBeOneOfTheDestinationsAccounts(string[] expected, bool accepted)
    {
        using var ca = new MeshCa();
        var verdict = PeerCertificates.Verify(ca.Issue(Reviews).Certificate, null, ca.Roots, MeshCa.TrustDomain, DateTimeOffset.UtcNow, client: false);

        var named = PeerCertificates.CheckServer(verdict, expected.ToFrozenSet(StringComparer.Ordinal));

        Assert.Equal(accepted, named.Peer is not null);
        if (!accepted)
        {
            Assert.Contains("secure naming: the server is spiffe://cluster.local/ns/default/sa/bookinfo-reviews", named.Error, StringComparison.Ordinal);
        }
    }
}
