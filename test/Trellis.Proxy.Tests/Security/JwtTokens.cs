using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Tests.Security;

/// <summary>
/// An issuer for tests: an RSA and an EC P-256 key published in a JWKS (kids <c>rsa</c> and <c>ec</c>), tokens signed
/// by them (or by keys the JWKS does not hold), and the hostile forms (alg none, HMAC with the public key).
/// </summary>
internal sealed class JwtTokens
{
    public const string Issuer = "https://issuer.test";

    /// <summary>The tests' clock (ManualTimeProvider's start) unless the tokens are for a real one.</summary>
    public JwtTokens(DateTimeOffset? now = null) => Now = now ?? new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public DateTimeOffset Now { get; }

    private static readonly JsonWebTokenHandler Handler = new() { SetDefaultTimesOnTokenCreation = false };

    public RSA Rsa { get; } = RSA.Create(2048);

    public ECDsa Ec { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    /// <summary>The JWKS document with both public keys.</summary>
    public string Jwks
    {
        get
        {
            var rsa = Rsa.ExportParameters(false);
            var ec = Ec.ExportParameters(false);
            return $$"""
                {"keys":[
                  {"kty":"RSA","kid":"rsa","use":"sig","alg":"RS256","n":"{{B64(rsa.Modulus!)}}","e":"{{B64(rsa.Exponent!)}}"},
                  {"kty":"EC","kid":"ec","use":"sig","crv":"P-256","x":"{{B64(ec.Q.X!)}}","y":"{{B64(ec.Q.Y!)}}"}
                ]}
                """;
        }
    }

    public JwtProviderConfig Provider(IReadOnlyList<string>? audiences = null, string? jwks = null) =>
        new("default/jwt/0", Issuer, audiences ?? [], jwks ?? Jwks, [], [], []);

    /// <summary>A token signed with RS256 by the published RSA key; <paramref name="claims"/> override the defaults.</summary>
    public string Rs256(Action<SecurityTokenDescriptor>? edit = null) => Sign(new SigningCredentials(new RsaSecurityKey(Rsa) { KeyId = "rsa" }, SecurityAlgorithms.RsaSha256), edit);

    public string Es256(Action<SecurityTokenDescriptor>? edit = null) => Sign(new SigningCredentials(new ECDsaSecurityKey(Ec) { KeyId = "ec" }, SecurityAlgorithms.EcdsaSha256), edit);

    /// <summary>Signed by a key the JWKS does not hold, under <paramref name="kid"/>.</summary>
    public string Foreign(string kid)
    {
        using var other = RSA.Create(2048);
        return Sign(new SigningCredentials(new RsaSecurityKey(other.ExportParameters(true)) { KeyId = kid }, SecurityAlgorithms.RsaSha256), null);
    }

    /// <summary>An unsigned token (<c>alg: none</c>) with the claims of a valid one.</summary>
    public string AlgNone() => $"{B64("""{"alg":"none","typ":"JWT"}"""u8.ToArray())}.{B64(Encoding.UTF8.GetBytes(Payload()))}.";

    /// <summary>Key confusion: HS256 with the RSA public key (its SubjectPublicKeyInfo bytes) as the HMAC secret.</summary>
    public string HmacWithPublicKey()
    {
        var head = B64("""{"alg":"HS256","typ":"JWT","kid":"rsa"}"""u8.ToArray()) + "." + B64(Encoding.UTF8.GetBytes(Payload()));
        var mac = HMACSHA256.HashData(Rsa.ExportSubjectPublicKeyInfo(), Encoding.ASCII.GetBytes(head));
        return head + "." + B64(mac);
    }

    /// <summary>A valid token whose payload is replaced after signing (another subject).</summary>
    public string Tampered()
    {
        var parts = Rs256().Split('.');
        return $"{parts[0]}.{B64(Encoding.UTF8.GetBytes(Payload("mallory")))}.{parts[2]}";
    }

    private string Sign(SigningCredentials credentials, Action<SecurityTokenDescriptor>? edit)
    {
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Subject = new ClaimsIdentity([new Claim("sub", "alice"), new Claim("azp", "web"), new Claim("groups", "admins"), new Claim("groups", "dev")]),
            Audience = "bookinfo",
            IssuedAt = Now.UtcDateTime,
            NotBefore = Now.UtcDateTime.AddMinutes(-1),
            Expires = Now.UtcDateTime.AddHours(1),
            SigningCredentials = credentials,
        };
        edit?.Invoke(descriptor);
        return Handler.CreateToken(descriptor);
    }

    private string Payload(string subject = "alice") =>
        $$"""{"iss":"{{Issuer}}","sub":"{{subject}}","aud":"bookinfo","exp":{{Now.AddHours(1).ToUnixTimeSeconds()}}}""";

    private static string B64(byte[] bytes) => Base64UrlEncoder.Encode(bytes);
}
