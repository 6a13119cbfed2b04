using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Agent.Identity;
using Trellis.Api.Identity;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Ca;
using Trellis.Proxy.Identity;
using Trellis.Runtime.Tests;

namespace Trellis.Agent.Tests.Identity;

public sealed class CertificateManagerTests : IDisposable
{
    private const string Token = "0123456789abcdef-join";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-cm-" + Guid.NewGuid().ToString("N"));
    private readonly ManualTimeProvider _clock = new();
    private readonly CaService _ca;
    private readonly CaHandler _handler;

    public CertificateManagerTests()
    {
        var policy = new CertificatePolicy { Lifetime = TimeSpan.FromSeconds(60) };
        var material = CertificateAuthority.CreateSelfSigned(policy.TrustDomain, _clock.GetUtcNow());
        _ca = new CaService(new CertificateAuthority(material, _clock), JoinToken.Open(Token, _dir), policy, _dir, _clock);
        _handler = new CaHandler(_ca);
    }

    public void Dispose()
    {
        _handler.Dispose();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task Want_JoinsIssuesAndRenewsAtHalfTheLifetime_DropsUnwanted()
    {
        var identities = new WorkloadIdentities();
        using var http = new HttpClient(_handler, disposeHandler: false) { BaseAddress = new Uri("http://ca.test") };
        await using var manager = new CertificateManager(http, "n1", Token, identities, _clock, NullLogger.Instance);
        manager.Start();
        manager.Want([("default", "reviews"), ("default", "ratings")]);

        var reviews = await EventuallyAsync(() => identities.Get("spiffe://cluster.local/ns/default/sa/reviews"));
        await EventuallyAsync(() => identities.Get("spiffe://cluster.local/ns/default/sa/ratings"));
        Assert.True(reviews.Certificate.HasPrivateKey);
        Assert.Single(identities.TrustBundle);
        Assert.Equal(_clock.GetUtcNow() + TimeSpan.FromSeconds(60), reviews.NotAfter);
        Assert.True(Chains(reviews, identities.TrustBundle));
        Assert.Equal(3, _handler.Issued); // the node, then each workload

        // Just before half the lifetime nothing is renewed; just after it, a new certificate with a new key replaces it.
        _clock.Advance(TimeSpan.FromSeconds(29));
        await Task.Delay(50);
        Assert.Same(reviews, identities.Get("spiffe://cluster.local/ns/default/sa/reviews"));
        _clock.Advance(TimeSpan.FromSeconds(2));
        var renewed = await EventuallyAsync(() => identities.Get("spiffe://cluster.local/ns/default/sa/reviews") is { } c && c != reviews ? c : null);
        Assert.Equal(_clock.GetUtcNow() + TimeSpan.FromSeconds(60), renewed.NotAfter);
        Assert.NotEqual(reviews.Certificate.GetPublicKeyString(), renewed.Certificate.GetPublicKeyString());
        await EventuallyAsync(() => _handler.Issued >= 6 ? "" : null); // node and both workloads renewed

        manager.Want([("default", "reviews")]);
        await EventuallyAsync(() => identities.Get("spiffe://cluster.local/ns/default/sa/ratings") is null ? "" : null);
        Assert.Contains(_ca.Status().Workloads, w => w.Identity == "spiffe://cluster.local/ns/default/sa/reviews" && w.Node == "n1");
    }

    [Fact]
    public async Task RootRotation_BundlePolled_EveryCertificateRenewedFromTheNewRootAtOnce()
    {
        // A CA of its own on disk, so it may rotate.
        var dir = Path.Combine(_dir, "own");
        var policy = new CertificatePolicy { Lifetime = TimeSpan.FromSeconds(60) };
        var (material, _) = CaStore.Open(null, dir, policy.TrustDomain, _clock);
        var ca = new CaService(new CertificateAuthority(material!, _clock), JoinToken.Open(Token, dir), policy, dir, _clock, ownDirectory: dir);
        using var handler = new CaHandler(ca);
        var identities = new WorkloadIdentities();
        using var http = new HttpClient(handler, disposeHandler: false) { BaseAddress = new Uri("http://ca.test") };
        await using var manager = new CertificateManager(http, "n1", Token, identities, _clock, NullLogger.Instance);
        manager.Start();
        manager.Want([("default", "reviews")]);
        var before = await EventuallyAsync(() => identities.Get("spiffe://cluster.local/ns/default/sa/reviews"));
        var oldRoot = ca.SigningRoot;

        Assert.NotNull(ca.Rotate().Status);

        // Within one bundle interval the proxy trusts both roots and holds a certificate from the new one, long before
        // half its lifetime; the node's own certificate is renewed too.
        _clock.Advance(CertificateManager.BundleInterval);
        var after = await EventuallyAsync(() => identities.Get("spiffe://cluster.local/ns/default/sa/reviews") is { } c && c != before ? c : null);
        Assert.Equal(2, identities.TrustBundle.Count);
        Assert.True(Chains(after, identities.TrustBundle));
        await EventuallyAsync(() => ca.Status().Workloads.All(w => w.RootFingerprint == ca.SigningRoot) ? "" : null);
        Assert.NotEqual(oldRoot, ca.SigningRoot);
    }

    [Fact]
    public async Task Start_WrongToken_HoldsNoCertificateAndKeepsTrying()
    {
        var identities = new WorkloadIdentities();
        using var http = new HttpClient(_handler, disposeHandler: false) { BaseAddress = new Uri("http://ca.test") };
        await using var manager = new CertificateManager(http, "n1", "0123456789abcdef-nope", identities, _clock, NullLogger.Instance);
        manager.Start();
        manager.Want([("default", "reviews")]);

        await EventuallyAsync(() => _handler.Refused >= 1 ? "" : null);
        _clock.Advance(TimeSpan.FromSeconds(1));
        await EventuallyAsync(() => _handler.Refused >= 2 ? "" : null);
        Assert.Empty(identities.All);
        Assert.Equal(0, _handler.Issued);
    }

    private static bool Chains(WorkloadCertificate certificate, X509Certificate2Collection roots)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.ExtraStore.AddRange(certificate.Intermediates);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = DateTime.UtcNow < certificate.NotAfter.UtcDateTime && DateTime.UtcNow > certificate.Certificate.NotBefore.ToUniversalTime()
            ? DateTime.UtcNow
            : certificate.NotAfter.UtcDateTime.AddSeconds(-1);
        return chain.Build(certificate.Certificate);
    }

    private static async Task<T> EventuallyAsync<T>(Func<T?> probe)
        where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            if (probe() is { } value)
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(10);
        }
    }

    /// <summary>The control plane's CA endpoints, in memory (the same CaService the API serves).</summary>
    private sealed class CaHandler(CaService ca) : HttpMessageHandler
    {
        private int _issued;
        private int _refused;

        public int Issued => Volatile.Read(ref _issued);

        public int Refused => Volatile.Read(ref _refused);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var path = request.RequestUri!.AbsolutePath;
            if (path == "/ca/v1/bundle")
            {
                return new HttpResponseMessage(HttpStatusCode.OK) { Content = JsonContent.Create(ca.Bundle(), options: WireJson.Options) };
            }

            var body = await request.Content!.ReadAsStringAsync(cancellationToken);
            var (certificate, status, error) = path == "/ca/v1/join"
                ? ca.Join(request.Headers.Authorization?.Parameter, JsonSerializer.Deserialize<JoinRequest>(body, WireJson.Options)!)
                : ca.Request(JsonSerializer.Deserialize<WorkloadCertificateRequest>(body, WireJson.Options)!);
            if (certificate is null)
            {
                Interlocked.Increment(ref _refused);
                return new HttpResponseMessage((HttpStatusCode)status) { Content = new StringContent(error ?? "") };
            }

            Interlocked.Increment(ref _issued);
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = JsonContent.Create(certificate, options: WireJson.Options) };
        }
    }
}
