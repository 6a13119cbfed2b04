using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Security;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Security;

/// <summary>RequestAuthentication's decision, as a table of tokens against one rule, with the clock held still.</summary>
public sealed class JwtAuthenticationTests
{
    private static readonly JwtTokens Tokens = new();

    public static TheoryData<string, string?> Cases()
    {
        var data = new TheoryData<string, string?>
        {
            { "rs256", null },
            { "es256", null },
            { "expired", JwtFailures.Expired },
            { "expired within the skew", null },
            { "nbf in the future", JwtFailures.NotYetValid },
            { "wrong issuer", JwtFailures.UnknownIssuer },
            { "wrong audience", JwtFailures.AudienceNotAllowed },
            { "forged signature", JwtFailures.VerificationFails },
            { "tampered payload", JwtFailures.VerificationFails },
            { "alg none", JwtFailures.VerificationFails },
            { "hs256 with the public key", JwtFailures.VerificationFails },
            { "unknown kid", JwtFailures.KidAlgMismatch },
            { "malformed", JwtFailures.BadFormat },
            { "bad base64", JwtFailures.BadFormat },
        };
        return data;
    }

    private static string Token(string name) => name switch
    {
        "rs256" => Tokens.Rs256(),
        "es256" => Tokens.Es256(),
        "expired" => Tokens.Rs256(d => { d.NotBefore = Tokens.Now.UtcDateTime.AddHours(-2); d.Expires = Tokens.Now.UtcDateTime.AddMinutes(-2); }),
        "expired within the skew" => Tokens.Rs256(d => { d.NotBefore = Tokens.Now.UtcDateTime.AddHours(-2); d.Expires = Tokens.Now.UtcDateTime.AddSeconds(-30); }),
        "nbf in the future" => Tokens.Rs256(d => d.NotBefore = Tokens.Now.UtcDateTime.AddMinutes(5)),
        "wrong issuer" => Tokens.Rs256(d => d.Issuer = "https://other.test"),
        "wrong audience" => Tokens.Rs256(d => d.Audience = "other"),
        "forged signature" => Tokens.Foreign("rsa"),
        "tampered payload" => Tokens.Tampered(),
        "alg none" => Tokens.AlgNone(),
        "hs256 with the public key" => Tokens.HmacWithPublicKey(),
        "unknown kid" => Tokens.Foreign("rotated-away"),
        "malformed" => "not-a-jwt",
        "bad base64" => "e30.!!!.sig",
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static JwtVerdict Authenticate(JwtProviderConfig provider, string? authorization = null, string? query = null, string? cookie = null, string? header = null)
    {
        var headers = new HeaderDictionary();
        if (authorization is not null)
        {
            headers["Authorization"] = authorization;
        }

        if (cookie is not null)
        {
            headers["Cookie"] = cookie;
        }

        if (header is not null)
        {
            headers["x-jwt"] = header;
        }

        var authentication = JwtAuthentication.Compile(new AuthenticationConfig([provider]), new ManualTimeProvider());
        return authentication.Authenticate(new RouteRequest("GET", "reviews", "/", query, headers, 9080));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Authenticate_Token_AcceptedOrRefusedWithEnvoysMessage(string token, string? failure)
    {
        var verdict = Authenticate(Tokens.Provider(audiences: ["bookinfo", "other-app"]), "Bearer " + Token(token));

        Assert.Equal(failure, verdict.Failure);
        Assert.Equal(failure is null, verdict.User is not null);
    }

    [Fact]
    public void Authenticate_ValidToken_IdentityForAuthorization()
    {
        var user = Authenticate(Tokens.Provider(), "Bearer " + Tokens.Rs256()).User!;

        Assert.Equal("https://issuer.test/alice", user.Principal);
        Assert.Equal(["bookinfo"], user.Audiences);
        Assert.Equal("web", user.Presenter);
        Assert.Equal(["admins", "dev"], user.Claims.GetProperty("groups").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void Authenticate_NoToken_PassesUnauthenticated()
    {
        var verdict = Authenticate(Tokens.Provider());

        Assert.Null(verdict.User);
        Assert.Null(verdict.Failure);
    }

    [Theory]
    [InlineData("Basic dXNlcjpwYXNz")] // not a bearer token: not this rule's
    [InlineData("Bearer ")]
    public void Authenticate_AuthorizationWithoutABearerToken_NoToken(string authorization)
    {
        var verdict = Authenticate(Tokens.Provider(), authorization);

        Assert.Null(verdict.Failure);
        Assert.Null(verdict.User);
    }

    [Fact]
    public void Authenticate_DefaultSources_BearerAndAccessTokenParameter()
    {
        Assert.NotNull(Authenticate(Tokens.Provider(), "bearer " + Tokens.Rs256()).User); // the prefix without case
        Assert.NotNull(Authenticate(Tokens.Provider(), query: "?a=1&access_token=" + Tokens.Rs256()).User);
        Assert.Equal(JwtFailures.VerificationFails, Authenticate(Tokens.Provider(), query: "?access_token=" + Tokens.Tampered()).Failure);
    }

    [Fact]
    public void Authenticate_ConfiguredSources_OnlyThoseAreRead()
    {
        var provider = Tokens.Provider() with { FromHeaders = [new JwtHeaderSource("x-jwt", "Token ")], FromParams = ["t"], FromCookies = ["session"] };

        Assert.NotNull(Authenticate(provider, header: "Token " + Tokens.Rs256()).User);
        Assert.NotNull(Authenticate(provider, query: "?t=" + Tokens.Es256()).User);
        Assert.NotNull(Authenticate(provider, cookie: "theme=dark; session=" + Tokens.Rs256()).User);
        Assert.Null(Authenticate(provider, "Bearer " + Tokens.Tampered()).Failure); // Authorization is not a source of this rule
        Assert.Null(Authenticate(provider, header: Tokens.Rs256()).User); // without the prefix: no token
    }

    [Fact]
    public void Authenticate_NoKeys_EveryTokenOfTheIssuerRefused()
    {
        var verdict = Authenticate(Tokens.Provider(jwks: null) with { Jwks = null }, "Bearer " + Tokens.Rs256());

        Assert.Equal(JwtFailures.JwksUnavailable, verdict.Failure);
    }

    [Fact]
    public void Authenticate_SeveralRules_TheTokensIssuerDecides()
    {
        var other = new JwtTokens();
        var authentication = JwtAuthentication.Compile(
            new AuthenticationConfig([Tokens.Provider() with { Issuer = "https://first.test" }, other.Provider()]), new ManualTimeProvider());
        var headers = new HeaderDictionary { ["Authorization"] = "Bearer " + other.Rs256() };

        var verdict = authentication.Authenticate(new RouteRequest("GET", "reviews", "/", null, headers, 9080));

        Assert.Equal("https://issuer.test/alice", verdict.User?.Principal);
    }
}
