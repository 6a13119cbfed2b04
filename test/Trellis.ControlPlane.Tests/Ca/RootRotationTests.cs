using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Identity;
using Trellis.ControlPlane.Ca;

namespace Trellis.ControlPlane.Tests.Ca;

/// <summary>
/// Root rotation (docs/security.md): from the moment it begins, certificates from either root are accepted by a peer
/// holding the old bundle, the new bundle, or both; the old root is dropped only once no certificate from it can be in
/// use; the CA on disk changes as one step.
/// </summary>
public sealed class RootRotationTests : IDisposable
{
    private const string Token = "0123456789abcdef-join";
    private static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-rotation-" + Guid.NewGuid().ToString("N"));
    private readonly MovableClock _clock = new(CaTestCertificates.Now);
    private readonly ECDsa _nodeKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly CaService _ca;

    public RootRotationTests()
    {
        var (material, errors) = CaStore.Open(null, _dir, "cluster.local", _clock);
        Assert.True(material is not null, string.Join("; ", errors));
        _ca = new CaService(new CertificateAuthority(material, _clock), JoinToken.Open(Token, _dir), new CertificatePolicy { Lifetime = Lifetime }, _dir, _clock, ownDirectory: _dir);
    }

    public void Dispose()
    {
        _nodeKey.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Rotate_CertificatesFromEitherRootVerifyWithTheOldBundleTheNewOneAndBoth()
    {
        var oldBundle = Roots(_ca.Bundle().TrustBundlePem);
        var nodeChain = Join();
        var (oldWorkload, oldChain) = Workload(nodeChain);

        var (status, code, error) = _ca.Rotate();

        Assert.True(status is not null, $"{code} {error}");
        Assert.Equal(2, status.Roots.Count);
        Assert.Single(status.Roots, r => r.Signing);
        Assert.Equal(_clock.GetUtcNow() + Lifetime, status.RotationDropBy);
        var bundle = _ca.Bundle();
        Assert.Equal(_ca.SigningRoot, bundle.SigningRoot);
        var both = Roots(bundle.TrustBundlePem);
        Assert.Equal(2, both.Count);
        var newOnly = new X509Certificate2Collection(both.Cast<X509Certificate2>().First(r => CaMaterial.Fingerprint(r) == _ca.SigningRoot));

        // The node's certificate from the old root still authenticates it, and what it gets now is the new root's.
        var (newWorkload, newChain) = Workload(nodeChain);
        Assert.Contains(_ca.Status().Workloads, w => w.Identity.EndsWith("/sa/reviews", StringComparison.Ordinal) && w.RootFingerprint == _ca.SigningRoot);

        // A new certificate verifies for a peer that has not seen the new bundle yet (its chain carries the new root
        // cross-signed by the old), for one that has, and for one that holds only the new root.
        Assert.Null(Check(newWorkload, newChain, oldBundle));
        Assert.Null(Check(newWorkload, newChain, both));
        Assert.Null(Check(newWorkload, newChain, newOnly));

        // An old certificate verifies for every peer holding the bundle of the rotation.
        Assert.Null(Check(oldWorkload, oldChain, both));
        Assert.NotNull(Check(oldWorkload, oldChain, newOnly));
    }

    [Fact]
    public void Rotate_Refusals()
    {
        Assert.NotNull(_ca.Rotate().Status);
        var (status, code, error) = _ca.Rotate();
        Assert.Null(status);
        Assert.Equal(409, code);
        Assert.Contains("a root rotation is under way", error, StringComparison.Ordinal);

        var operators = new CaService(new CertificateAuthority(CertificateAuthority.CreateSelfSigned("cluster.local", CaTestCertificates.Now), _clock),
            JoinToken.Open(Token, _dir), CertificatePolicy.Default, "/etc/cacerts", _clock);
        var refused = operators.Rotate();
        Assert.Equal(409, refused.Code);
        Assert.Contains("the CA is the operator's (/etc/cacerts)", refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void OldRoot_DroppedOnceEveryCertificateSeenIsFromTheNewRoot_AndTheCaSeesAWholeLifetime()
    {
        var joinToken = JoinToken.Read(JoinToken.Open(null, _dir).Path!); // the control plane's own join token lives beside the CA's files
        Join();
        _clock.Advance(TimeSpan.FromMinutes(30));
        Assert.NotNull(_ca.Rotate().Status);

        // Renewed from the new root at once, but the CA has run for less than a lifetime: a certificate issued by an
        // earlier run could still be in use, unseen, so the old root stays.
        _clock.Advance(TimeSpan.FromMinutes(1));
        var renewed = Join();
        Assert.Equal(2, Roots(_ca.Bundle().TrustBundlePem).Count);

        // A lifetime after the CA started (half an hour before the rotation's own deadline) every certificate it may have
        // to know of is in its list, and none is the old root's.
        _clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Single(Roots(_ca.Bundle().TrustBundlePem));
        var status = _ca.Status();
        Assert.Single(status.Roots);
        Assert.Null(status.RotationDropBy);

        // On disk as one step: a restart reads one root, the join token kept beside it.
        Assert.False(File.Exists(Path.Combine(_dir, CaMaterial.PreviousRootFile)));
        Assert.Equal(joinToken, JoinToken.Read(Path.Combine(_dir, JoinToken.FileName)));
        var (reopened, _) = CaStore.Open(null, _dir, "cluster.local", _clock);
        Assert.Equal(_ca.SigningRoot, reopened!.RootFingerprint);
        Assert.Null(reopened.PreviousRoot);
        Assert.NotNull(_ca.Request(Signed(CaTestCertificates.Csr("spiffe://cluster.local/trellis/node/n1", _nodeKey), renewed)).Certificate);
    }

    [Fact]
    public void OldRoot_KeptWhileACertificateFromItIsValid_DroppedALifetimeAfterTheRotationAtTheLatest()
    {
        _clock.Advance(TimeSpan.FromMinutes(30));
        Join(); // from the old root, valid for an hour from now
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.NotNull(_ca.Rotate().Status);

        // The CA has now seen a whole lifetime, but the node never renewed: its old certificate is still valid.
        _clock.Advance(TimeSpan.FromMinutes(40));
        Assert.Equal(2, _ca.Status().Roots.Count);

        // A lifetime after the rotation began, nothing from the old root can be valid any more.
        _clock.Advance(TimeSpan.FromMinutes(20));
        Assert.Single(_ca.Status().Roots);
    }

    private string Join()
    {
        var (certificate, status, error) = _ca.Join(Token, new JoinRequest("n1", CaTestCertificates.Csr("spiffe://cluster.local/trellis/node/n1", _nodeKey)));
        Assert.True(certificate is not null, $"{status} {error}");
        return certificate.CertificateChainPem;
    }

    private (X509Certificate2 Leaf, X509Certificate2Collection Chain) Workload(string nodeChain)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var (certificate, status, error) = _ca.Request(Signed(CaTestCertificates.Csr("spiffe://cluster.local/ns/default/sa/reviews", key), nodeChain));
        Assert.True(certificate is not null, $"{status} {error}");
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(certificate.CertificateChainPem);
        return (chain[0], chain);
    }

    private WorkloadCertificateRequest Signed(string csr, string nodeChain)
    {
        var timestamp = _clock.GetUtcNow();
        return new WorkloadCertificateRequest(csr, nodeChain, timestamp, CaProtocol.Sign(_nodeKey, CaProtocol.SignedMessage(csr, timestamp)));
    }

    /// <summary>The mesh's own check of a peer (<see cref="MeshCertificates.CheckChain"/>), with the chain the peer sends.</summary>
    private string? Check(X509Certificate2 leaf, X509Certificate2Collection sent, X509Certificate2Collection roots)
    {
        using var presented = new X509Chain();
        presented.ChainPolicy.ExtraStore.AddRange(sent);
        return MeshCertificates.CheckChain(leaf, presented, roots, _clock.GetUtcNow(), client: false);
    }

    private static X509Certificate2Collection Roots(string pem)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPem(pem);
        return roots;
    }
}
