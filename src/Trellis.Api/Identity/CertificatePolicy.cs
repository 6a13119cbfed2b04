namespace Trellis.Api.Identity;

/// <summary>The key algorithms a workload key may use.</summary>
public enum KeyAlgorithm
{
    /// <summary>ECDSA on NIST P-256 (Istio's <c>ECC_SIGNATURE_ALGORITHM=ECDSA</c>); the default.</summary>
    EcdsaP256,

    /// <summary>RSA 2048 (Istio's default before ECDSA).</summary>
    Rsa2048,
}

/// <summary>
/// How workload certificates are made and kept fresh, shared by the CA (which caps the lifetime) and the agents
/// (which make the keys and renew): Istio's <c>DEFAULT_WORKLOAD_CERT_TTL</c> (24 h), <c>SECRET_GRACE_PERIOD_RATIO</c>
/// (renew at 50 % of the lifetime) and <c>ECC_SIGNATURE_ALGORITHM</c>, with the trust domain of the mesh config.
/// </summary>
public sealed record CertificatePolicy
{
    public static readonly CertificatePolicy Default = new();

    public string TrustDomain { get; init; } = SpiffeId.DefaultTrustDomain;

    public TimeSpan Lifetime { get; init; } = TimeSpan.FromHours(24);

    /// <summary>The share of a certificate's lifetime after which it is renewed (0 &lt; f &lt; 1).</summary>
    public double RenewalFraction { get; init; } = 0.5;

    public KeyAlgorithm KeyAlgorithm { get; init; } = KeyAlgorithm.EcdsaP256;

    /// <summary>
    /// When a certificate valid from <paramref name="notBefore"/> to <paramref name="notAfter"/> is renewed: at
    /// <see cref="RenewalFraction"/> of its lifetime (a pure function, so a test moves the clock, not waits).
    /// </summary>
    public DateTimeOffset RenewAt(DateTimeOffset notBefore, DateTimeOffset notAfter) =>
        notBefore + TimeSpan.FromTicks((long)((notAfter - notBefore).Ticks * RenewalFraction));

    /// <summary>Null when the policy can be used, else why not.</summary>
    public string? Problem() =>
        Lifetime < TimeSpan.FromSeconds(10) ? "the certificate lifetime must be at least 10s"
        : RenewalFraction is <= 0 or >= 1 ? "the renewal fraction must be between 0 and 1"
        : SpiffeId.TryParse(SpiffeId.Scheme + TrustDomain, out _, out var error) ? null
        : error;
}
