using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Identity;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Ca;
using Trellis.ControlPlane.Tests.ApiServer;

namespace Trellis.ControlPlane.Tests.Ca;

public sealed class CaServiceTests : IDisposable
{
    private const string Token = "0123456789abcdef-join";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-ca-" + Guid.NewGuid().ToString("N"));
    private readonly FixedClock _clock = new(CaTestCertificates.Now);
    private readonly CaService _ca;
    private readonly ECDsa _nodeKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public CaServiceTests()
    {
        var material = CertificateAuthority.CreateSelfSigned("cluster.local", CaTestCertificates.Now);
        _ca = new CaService(new CertificateAuthority(material, _clock), JoinToken.Open(Token, _dir), CertificatePolicy.Default, _dir, _clock);
    }

    public void Dispose() => _nodeKey.Dispose();

    private string NodeChain(string node = "n1")
    {
        var (certificate, status, error) = _ca.Join(Token, new JoinRequest(node, CaTestCertificates.Csr($"spiffe://cluster.local/trellis/node/{node}", _nodeKey)));
        Assert.True(certificate is not null, $"{status} {error}");
        return certificate.CertificateChainPem;
    }

    private WorkloadCertificateRequest Signed(string csr, string nodeChain, AsymmetricAlgorithm? key = null, DateTimeOffset? at = null)
    {
        var timestamp = at ?? CaTestCertificates.Now;
        return new WorkloadCertificateRequest(csr, nodeChain, timestamp, CaProtocol.Sign(key ?? _nodeKey, CaProtocol.SignedMessage(csr, timestamp)));
    }

    [Fact]
    public void Join_RightToken_IssuesNodeCertificateAndBundle()
    {
        var (certificate, _, _) = _ca.Join(Token, new JoinRequest("n1", CaTestCertificates.Csr("spiffe://cluster.local/trellis/node/n1", _nodeKey)));

        Assert.NotNull(certificate);
        using var leaf = X509Certificate2.CreateFromPem(certificate.CertificateChainPem);
        Assert.Equal("spiffe://cluster.local/trellis/node/n1", SpiffeId.FromCertificate(leaf)!.ToString());
        Assert.Equal(_ca.Bundle().TrustBundlePem, certificate.TrustBundlePem);
        Assert.Equal(CaTestCertificates.Now + TimeSpan.FromHours(24), certificate.NotAfter);
    }

    public static TheoryData<string, string?, string, string> BadJoins => new()
    {
        { "no token", null, "n1", "spiffe://cluster.local/trellis/node/n1" },
        { "wrong token", "0123456789abcdef-nope", "n1", "spiffe://cluster.local/trellis/node/n1" },
        { "another node's identity", Token, "n1", "spiffe://cluster.local/trellis/node/n2" },
        { "a workload identity", Token, "n1", "spiffe://cluster.local/ns/default/sa/reviews" },
    };

    [Theory]
    [MemberData(nameof(BadJoins))]
    public void Join_Refused(string scenario, string? token, string node, string asked)
    {
        var (certificate, status, error) = _ca.Join(token, new JoinRequest(node, CaTestCertificates.Csr(asked)));

        Assert.True(certificate is null, scenario);
        Assert.True(status is 401 or 400, $"{scenario}: {status}");
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void Request_SignedByJoinedNode_IssuesWorkloadCertificateAndStatusListsIt()
    {
        var chain = NodeChain();
        using var workloadKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var (certificate, status, error) = _ca.Request(Signed(CaTestCertificates.Csr("spiffe://cluster.local/ns/default/sa/reviews", workloadKey), chain));

        Assert.True(certificate is not null, $"{status} {error}");
        using var leaf = X509Certificate2.CreateFromPem(certificate.CertificateChainPem);
        Assert.Equal("spiffe://cluster.local/ns/default/sa/reviews", SpiffeId.FromCertificate(leaf)!.ToString());
        var issued = _ca.Status().Workloads;
        Assert.Contains(issued, i => i.Identity == "spiffe://cluster.local/ns/default/sa/reviews" && i.Node == "n1");
        Assert.Contains(issued, i => i.Identity == "spiffe://cluster.local/trellis/node/n1");
    }

    [Fact]
    public void Request_NodeRenewsOwnIdentity_Issued()
    {
        var chain = NodeChain();
        using var next = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var (certificate, _, error) = _ca.Request(Signed(CaTestCertificates.Csr("spiffe://cluster.local/trellis/node/n1", next), chain));

        Assert.True(certificate is not null, error);
    }

    [Fact]
    public void Request_Refusals()
    {
        var chain = NodeChain();
        var workload = CaTestCertificates.Csr("spiffe://cluster.local/ns/default/sa/reviews");
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var foreign = CertificateAuthority.CreateSelfSigned("cluster.local", CaTestCertificates.Now);
        var foreignCa = new CaService(new CertificateAuthority(foreign, _clock), JoinToken.Open(Token, _dir), CertificatePolicy.Default, _dir, _clock);
        var (foreignNode, _, _) = foreignCa.Join(Token, new JoinRequest("n1", CaTestCertificates.Csr("spiffe://cluster.local/trellis/node/n1", _nodeKey)));
        var expired = new CaService(new CertificateAuthority(CertificateAuthority.CreateSelfSigned("cluster.local", CaTestCertificates.Now), _clock), JoinToken.Open(Token, _dir), CertificatePolicy.Default, _dir, new FixedClock(CaTestCertificates.Now.AddDays(2)));

        var cases = new (string Scenario, CaService Ca, WorkloadCertificateRequest Request, int Status)[]
        {
            ("signed by another key", _ca, Signed(workload, chain, otherKey), 401),
            ("node certificate of another CA (valid-looking SPIFFE SAN)", _ca, Signed(workload, foreignNode!.CertificateChainPem), 401),
            ("replayed after the window", _ca, Signed(workload, chain, at: CaTestCertificates.Now - TimeSpan.FromMinutes(10)), 401),
            ("no node certificate", _ca, Signed(workload, ""), 401),
            ("another node's identity", _ca, Signed(CaTestCertificates.Csr("spiffe://cluster.local/trellis/node/n2"), chain), 403),
            ("another trust domain", _ca, Signed(CaTestCertificates.Csr("spiffe://evil.example/ns/default/sa/reviews"), chain), 403),
            ("not a workload path", _ca, Signed(CaTestCertificates.Csr("spiffe://cluster.local/admin"), chain), 403),
            ("two identities", _ca, Signed(TwoSans(), chain), 400),
            ("garbage CSR", _ca, Signed("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", chain), 400),
        };
        foreach (var (scenario, ca, request, expectedStatus) in cases)
        {
            var (certificate, status, error) = ca.Request(request);
            Assert.True(certificate is null, scenario);
            Assert.True(status == expectedStatus, $"{scenario}: {status} {error}");
        }

        // A node certificate that expired: the CA's clock is two days on.
        var (late, lateStatus, _) = expired.Request(Signed(workload, chain, at: CaTestCertificates.Now.AddDays(2)));
        Assert.Null(late);
        Assert.Equal(401, lateStatus);
    }

    [Fact]
    public void Request_AWorkloadIdentityNotPlacedOnTheNode_IsRefused_TheNodesOwnStillRenews()
    {
        var placed = new CaService(new CertificateAuthority(CertificateAuthority.CreateSelfSigned("cluster.local", CaTestCertificates.Now), _clock), JoinToken.Open(Token, _dir),
            CertificatePolicy.Default, _dir, _clock, (node, ns, account) => (node, ns, account) == ("n1", "default", "reviews") ? null : "not placed here");
        var (joined, _, _) = placed.Join(Token, new JoinRequest("n1", CaTestCertificates.Csr("spiffe://cluster.local/trellis/node/n1", _nodeKey)));
        var chain = joined!.CertificateChainPem;

        Assert.Equal(200, placed.Request(Signed(CaTestCertificates.Csr("spiffe://cluster.local/ns/default/sa/reviews"), chain)).Status);
        var (refused, status, error) = placed.Request(Signed(CaTestCertificates.Csr("spiffe://cluster.local/ns/default/sa/ratings"), chain));
        Assert.Null(refused);
        Assert.Equal(403, status);
        Assert.Equal("node n1 may not have spiffe://cluster.local/ns/default/sa/ratings: not placed here", error);
        Assert.Equal(200, placed.Request(Signed(CaTestCertificates.Csr("spiffe://cluster.local/trellis/node/n1", _nodeKey), chain)).Status);
    }

    private static string TwoSans()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName(""), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri("spiffe://cluster.local/ns/default/sa/a"));
        san.AddUri(new Uri("spiffe://cluster.local/ns/default/sa/b"));
        request.CertificateExtensions.Add(san.Build(true));
        return request.CreateSigningRequestPem();
    }

    [Fact]
    public async Task Endpoints_JoinNeedsTheTokenFromTheDataDirectory()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        var tokenFile = cp.Host.Ca.JoinToken.Path!;
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
        }

        var bundle = await cp.Http.GetFromJsonAsync<TrustBundle>("/ca/v1/bundle", WireJson.Options);
        Assert.Equal("cluster.local", bundle!.TrustDomain);
        var join = new JoinRequest("n1", CaTestCertificates.Csr("spiffe://cluster.local/trellis/node/n1", _nodeKey));

        using var refused = await cp.Http.PostAsJsonAsync("/ca/v1/join", join, WireJson.Options);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/ca/v1/join") { Content = JsonContent.Create(join, options: WireJson.Options) };
        request.Headers.Authorization = new("Bearer", JoinToken.Read(tokenFile));
        using var accepted = await cp.Http.SendAsync(request);
        using var garbage = await cp.Http.PostAsync("/ca/v1/certificates", new StringContent("{not json"));

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        var status = await cp.Http.GetFromJsonAsync<CaStatus>("/ca/v1/status", WireJson.Options);
        Assert.Contains(status!.Workloads, w => w.Node == "n1");
    }
}
