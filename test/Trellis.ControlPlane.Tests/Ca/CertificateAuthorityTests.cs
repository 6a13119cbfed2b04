using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Trellis.Api.Identity;
using Trellis.ControlPlane.Ca;
using static Trellis.ControlPlane.Tests.Ca.CaTestCertificates;

namespace Trellis.ControlPlane.Tests.Ca;

public sealed class CertificateAuthorityTests
{
    private static readonly SpiffeId Reviews = SpiffeId.ForWorkload("cluster.local", "default", "bookinfo-reviews");

    [Fact]
    public void Sign_ValidCsr_IssuesSpiffeCertificateChainingToTheRoot()
    {
        using var material = CertificateAuthority.CreateSelfSigned("cluster.local", Now);
        var ca = new CertificateAuthority(material, new FixedClock(Now));

        var (chainPem, notAfter, error) = ca.Sign(Csr(Reviews.ToString()), Reviews, TimeSpan.FromHours(24));

        Assert.Null(error);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(chainPem!);
        var leaf = chain[0];
        Assert.Equal(Reviews, SpiffeId.FromCertificate(leaf));
        Assert.Equal(Now + TimeSpan.FromHours(24), notAfter);
        Assert.Equal(notAfter.UtcDateTime, leaf.NotAfter.ToUniversalTime());
        Assert.False(leaf.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        var usages = leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value);
        Assert.Equal(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], usages);
        Assert.True(leaf.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().Critical);
        Assert.True(Verifies(leaf, material.RootPem, [.. chain.Skip(1)], Now.AddHours(1)));
    }

    [Fact]
    public void Sign_PluggedInIntermediate_ChainCarriesTheIntermediate()
    {
        using var material = CaMaterial.Load(PluggedIn(), Now, out var errors)!;
        Assert.Empty(errors);
        var ca = new CertificateAuthority(material, new FixedClock(Now));

        var (chainPem, _, error) = ca.Sign(Csr(Reviews.ToString()), Reviews, TimeSpan.FromHours(1));

        Assert.Null(error);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(chainPem!);
        Assert.Equal(2, chain.Count); // leaf, intermediate; the root is the trust anchor, not sent
        Assert.Contains("Intermediate", chain[1].Subject, StringComparison.Ordinal);
        Assert.True(Verifies(chain[0], material.RootPem, [chain[1]], Now));
    }

    public static TheoryData<string, Func<string>> Refusals => new()
    {
        { "another identity", () => Csr("spiffe://cluster.local/ns/default/sa/bookinfo-productpage") },
        { "another trust domain", () => Csr("spiffe://evil.example/ns/default/sa/bookinfo-reviews") },
        { "no identity", () => Csr(null) },
        { "weak RSA key", () => Csr(Reviews.ToString(), RSA.Create(1024)) },
        { "P-521 key", () => Csr(Reviews.ToString(), ECDsa.Create(ECCurve.NamedCurves.nistP521)) },
        { "tampered CSR", () => Tamper(Csr(Reviews.ToString())) },
        { "not a CSR", () => "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Sign_BadRequest_IsRefusedWithAReason(string why, Func<string> csr)
    {
        using var material = CertificateAuthority.CreateSelfSigned("cluster.local", Now);
        var ca = new CertificateAuthority(material, new FixedClock(Now));

        var (chainPem, _, error) = ca.Sign(csr(), Reviews, TimeSpan.FromHours(24));

        Assert.True(chainPem is null, why);
        Assert.False(string.IsNullOrEmpty(error), why);
    }

    [Fact]
    public void Sign_LifetimeBeyondTheSigner_EndsWithTheSigner()
    {
        using var material = CaMaterial.Load(PluggedIn(), Now, out _)!;
        var ca = new CertificateAuthority(material, new FixedClock(Now));

        var (_, notAfter, error) = ca.Sign(Csr(Reviews.ToString()), Reviews, TimeSpan.FromDays(3650));

        Assert.Null(error);
        Assert.Equal(material.Signer.NotAfter.ToUniversalTime(), notAfter.UtcDateTime);
    }

    [Fact]
    public void RenewAt_HalfTheLifetime_ByDefault()
    {
        var policy = CertificatePolicy.Default;
        Assert.Equal(Now.AddHours(12), policy.RenewAt(Now, Now.AddHours(24)));
        Assert.Equal(Now.AddSeconds(45), (policy with { RenewalFraction = 0.75 }).RenewAt(Now, Now.AddSeconds(60)));
        Assert.Null(policy.Problem());
        Assert.NotNull((policy with { RenewalFraction = 1 }).Problem());
        Assert.NotNull((policy with { TrustDomain = "Bad Domain" }).Problem());
    }

    /// <summary>Flips a bit inside the CSR's public key: the self-signature no longer verifies.</summary>
    private static string Tamper(string pem)
    {
        var der = Convert.FromBase64String(string.Concat(pem.Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal))));
        der[der.Length / 2] ^= 0x01;
        return PemEncoding.WriteString("CERTIFICATE REQUEST", der);
    }
}
