using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Security;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Security;

/// <summary>
/// The validated-token cache of a JWT rule: a token verified once is not verified again, but its lifetime is checked
/// against the clock on every hit; failures are never kept; the cache is bounded and belongs to one compiled snapshot.
/// </summary>
public sealed class JwtCacheTests
{
    private static readonly JwtTokens Tokens = new();

    private static JwtVerdict Authenticate(JwtAuthentication authentication, string token) =>
        authentication.Authenticate(new RouteRequest("GET", "reviews", "/", null, new HeaderDictionary { ["Authorization"] = "Bearer " + token }, 9080));

    [Fact]
    public void CachedToken_ClockPassesItsExpiry_RefusedAsExpiredAndForgotten()
    {
        var time = new ManualTimeProvider();
        var authentication = JwtAuthentication.Compile(new AuthenticationConfig([Tokens.Provider()]), time);
        var token = Tokens.Rs256(d => d.Expires = Tokens.Now.UtcDateTime.AddMinutes(5));

        Assert.NotNull(Authenticate(authentication, token).User);
        Assert.Equal("https://issuer.test/alice", Authenticate(authentication, token).User!.Principal); // a hit
        Assert.Equal(1, authentication.Providers[0].Cached);

        time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(61)); // past exp and Envoy's 60 s of skew
        Assert.Equal(JwtFailures.Expired, Authenticate(authentication, token).Failure);
        Assert.Equal(0, authentication.Providers[0].Cached);
    }

    [Fact]
    public void RefusedTokens_NeverKept()
    {
        var authentication = JwtAuthentication.Compile(new AuthenticationConfig([Tokens.Provider()]), new ManualTimeProvider());
        var tampered = Tokens.Tampered();

        Assert.Equal(JwtFailures.VerificationFails, Authenticate(authentication, tampered).Failure);
        Assert.Equal(JwtFailures.VerificationFails, Authenticate(authentication, tampered).Failure);
        Assert.Equal(0, authentication.Providers[0].Cached);
    }

    [Fact]
    public void Capacity_ManyDistinctTokens_NeverMoreThanTheBound()
    {
        var authentication = JwtAuthentication.Compile(new AuthenticationConfig([Tokens.Provider()]), new ManualTimeProvider(), cacheCapacity: 2);

        for (var i = 0; i < 5; i++)
        {
            var minutes = 10 + i; // distinct tokens: each expires a minute later
            Assert.NotNull(Authenticate(authentication, Tokens.Rs256(d => d.Expires = Tokens.Now.UtcDateTime.AddMinutes(minutes))).User);
            Assert.InRange(authentication.Providers[0].Cached, 1, 2);
        }
    }

    [Fact]
    public void NewSnapshotWithOtherKeys_CachedTokenVerifiedAgainAndRefused()
    {
        var time = new ManualTimeProvider();
        var token = Tokens.Rs256();
        Assert.NotNull(Authenticate(JwtAuthentication.Compile(new AuthenticationConfig([Tokens.Provider()]), time), token).User);

        var rotated = JwtAuthentication.Compile(new AuthenticationConfig([Tokens.Provider(jwks: new JwtTokens().Jwks)]), time);

        Assert.Equal(JwtFailures.VerificationFails, Authenticate(rotated, token).Failure);
    }
}
