using System.Collections.Frozen;
using System.Diagnostics;
using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Security;

namespace Trellis.Benchmarks;

/// <summary>
/// RequestAuthentication on the request path: a listener without JWT rules must cost nothing (budgeted, 0 B); the cost
/// of a validated token (RS256 and ES256 through Microsoft.IdentityModel) is reported per call, bytes and microseconds,
/// next to a route match measured in the same run, and again with the token's outputs configured
/// (<c>outputPayloadToHeader</c> and one <c>outputClaimToHeaders</c>), whose header edits are made per request.
/// </summary>
internal static class JwtBudget
{
    private const string Issuer = "https://issuer.bench";

    public static IEnumerable<(string Name, Action Call)> Operations()
    {
        var (stage, _, _) = Stage();
        var request = Fixtures.Request("reviews:9080", "/reviews/0", ("authorization", "Bearer x.y.z"));
        yield return ("jwt: listener without rules", () => stage.Authenticate(request, "plain"));
    }

    public static void Report(TextWriter output, Action baseline)
    {
        var (stage, rs256, es256) = Stage(cacheCapacity: 0); // every call verifies: the cost of a token not seen before
        var (cached, cachedRs256, _) = Stage(JwtAuthentication.DefaultCacheCapacity);
        var cachedRequest = Fixtures.Request("reviews:9080", "/reviews/0", ("authorization", "Bearer " + cachedRs256));
        var rsRequest = Fixtures.Request("reviews:9080", "/reviews/0", ("authorization", "Bearer " + rs256));
        var esRequest = Fixtures.Request("reviews:9080", "/reviews/0", ("authorization", "Bearer " + es256));
        if (stage.Authenticate(rsRequest, "jwt").User is null || stage.Authenticate(esRequest, "jwt").User is null || stage.Authenticate(rsRequest, "jwt-outputs").RequestEdits is null)
        {
            throw new InvalidOperationException("the JWT fixtures no longer validate; the report would measure a refusal");
        }

        foreach (var (name, call) in new (string, Action)[]
        {
            ("route match, same run (info)", baseline),
            ("jwt: RS256 validated (info)", () => stage.Authenticate(rsRequest, "jwt")),
            ("jwt: ES256 validated (info)", () => stage.Authenticate(esRequest, "jwt")),
            ("jwt: RS256 validated, outputs (info)", () => stage.Authenticate(rsRequest, "jwt-outputs")),
            ("jwt: RS256 cached (info)", () => cached.Authenticate(cachedRequest, "jwt")),
        })
        {
            var (bytes, micros) = Measure(call);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-36} {bytes,12:0.##} {"-",8}  {micros,8:0.00} µs/call"));
        }
    }

    /// <summary>
    /// A JwtStage over a snapshot with listener <c>jwt</c> (one rule, RSA and EC keys), <c>jwt-outputs</c> (the same rule
    /// with outputs) and <c>plain</c> (none); two tokens.
    /// </summary>
    private static (JwtStage Stage, string Rs256, string Es256) Stage(int cacheCapacity = 0)
    {
        using var rsa = RSA.Create(2048);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rsaKey = new RsaSecurityKey(rsa.ExportParameters(true)) { KeyId = "rsa" };
        var ecKey = new ECDsaSecurityKey(ECDsa.Create(ec.ExportParameters(true))) { KeyId = "ec" };
        var rp = rsa.ExportParameters(false);
        var ep = ec.ExportParameters(false);
        var jwks = $$"""
            {"keys":[{"kty":"RSA","kid":"rsa","n":"{{Base64UrlEncoder.Encode(rp.Modulus)}}","e":"{{Base64UrlEncoder.Encode(rp.Exponent)}}"},
            {"kty":"EC","kid":"ec","crv":"P-256","x":"{{Base64UrlEncoder.Encode(ep.Q.X)}}","y":"{{Base64UrlEncoder.Encode(ep.Q.Y)}}"}]}
            """;
        var provider = new JwtProviderConfig("bench/jwt/0", Issuer, ["bookinfo"], jwks, [], [], []);
        var listeners = new[]
        {
            new ListenerConfig("jwt", "127.0.0.1", 1, ListenerKind.Inbound, "t", Authentication: new AuthenticationConfig([provider])),
            new ListenerConfig("plain", "127.0.0.1", 2, ListenerKind.Inbound, "t"),
            new ListenerConfig("jwt-outputs", "127.0.0.1", 3, ListenerKind.Inbound, "t", Authentication: new AuthenticationConfig(
                [provider with { Name = "bench/jwt/1", OutputPayloadToHeader = "x-jwt-payload", OutputClaimToHeaders = [new JwtClaimHeader("x-jwt-sub", "sub")] }])),
        };
        var snapshot = new CompiledSnapshot(new ProxySnapshot("1", listeners, [], []), FrozenDictionary<string, CompiledRouteTable>.Empty, FrozenDictionary<string, Trellis.Proxy.LoadBalancing.ClusterState>.Empty);
        var holder = new SnapshotHolder();
        holder.Swap(snapshot);
        return (new JwtStage(holder, TimeProvider.System, cacheCapacity), Token(new SigningCredentials(rsaKey, SecurityAlgorithms.RsaSha256)), Token(new SigningCredentials(ecKey, SecurityAlgorithms.EcdsaSha256)));
    }

    private static string Token(SigningCredentials credentials) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = Issuer,
        Audience = "bookinfo",
        Subject = new ClaimsIdentity([new Claim("sub", "alice"), new Claim("groups", "dev")]),
        Expires = DateTime.UtcNow.AddHours(1),
        SigningCredentials = credentials,
    });

    private static (double Bytes, double Micros) Measure(Action call)
    {
        const int Calls = 20_000;
        for (var i = 0; i < 5_000; i++)
        {
            call();
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < Calls; i++)
        {
            call();
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        return ((GC.GetAllocatedBytesForCurrentThread() - before) / (double)Calls, elapsed.TotalMicroseconds / Calls);
    }
}
