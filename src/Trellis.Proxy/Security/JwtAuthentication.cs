using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Security;

/// <summary>
/// A listener's RequestAuthentication, compiled once per snapshot: for each JWT rule, where its token is looked for and
/// the validation parameters (issuer, audiences, keys of its JWKS). Istio's semantics (Envoy's <c>jwt_authn</c> with
/// <c>requires_any</c> of the providers and <c>allow_missing</c>): a request without a token passes unauthenticated; a
/// token is checked by the rule whose issuer it names, and one that fails (signature, lifetime, issuer, audience,
/// key, form) refuses the request. Signatures and lifetimes are checked by Microsoft.IdentityModel, never here.
/// </summary>
internal sealed class JwtAuthentication
{
    // Envoy's jwt_authn default clock skew (clock_skew_seconds: 60).
    private static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(60);
    private static readonly JsonWebTokenHandler Handler = new();

    private readonly JwtProvider[] _providers;

    private JwtAuthentication(JwtProvider[] providers) => _providers = providers;

    public IReadOnlyList<JwtProvider> Providers => _providers;

    /// <summary>How many verified tokens each rule remembers (<see cref="JwtProvider.Validate"/>).</summary>
    public const int DefaultCacheCapacity = 1024;

    /// <param name="cacheCapacity">Verified tokens remembered per rule; 0 turns the cache off (the benchmark's misses).</param>
    public static JwtAuthentication Compile(AuthenticationConfig config, TimeProvider time, int cacheCapacity = DefaultCacheCapacity) =>
        new([.. config.Providers.Select(p => JwtProvider.Compile(p, time, cacheCapacity))]);

    /// <summary>The request's end user: none (no token anywhere), a verified identity, or the reason its token is refused.</summary>
    public JwtVerdict Authenticate(in RouteRequest request)
    {
        string? failure = null;
        foreach (var provider in _providers)
        {
            if (provider.Sources.Find(request, out var header) is not { } token)
            {
                continue;
            }

            var verdict = provider.Validate(token, header);
            if (verdict.User is not null)
            {
                return verdict;
            }

            // A token another rule's issuer names is that rule's to judge: "issuer is not configured" only when no rule is.
            if (failure is null || failure == JwtFailures.UnknownIssuer)
            {
                failure = verdict.Failure;
            }
        }

        return failure is null ? default : new JwtVerdict(null, failure, null);
    }

    /// <summary>One JWT rule, ready to validate.</summary>
    internal sealed class JwtProvider
    {
        private readonly TokenValidationParameters? _parameters;

        private readonly TimeProvider _time;

        // Tokens this rule verified, by their exact text. The provider is compiled per snapshot, so new keys or rules
        // start with an empty cache; only successes are kept, and a hit re-checks the lifetime against the clock.
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Verified> _verified = new(StringComparer.Ordinal);
        private readonly int _cacheCapacity;

        private JwtProvider(JwtProviderConfig config, JwtTokenSources sources, TokenValidationParameters? parameters, TimeProvider time, int cacheCapacity)
        {
            _time = time;
            _cacheCapacity = cacheCapacity;
            Config = config;
            Sources = sources;
            _parameters = parameters;
        }

        public JwtProviderConfig Config { get; }

        public JwtTokenSources Sources { get; }

        /// <summary>What a token this rule verified changes in the request sent upstream.</summary>
        public JwtUpstreamEdits Edits { get; private init; } = null!;

        public static JwtProvider Compile(JwtProviderConfig config, TimeProvider time, int cacheCapacity = DefaultCacheCapacity)
        {
            var keys = Keys(config.Jwks);
            var parameters = keys is null ? null : new TokenValidationParameters
            {
                ValidIssuer = config.Issuer,
                ValidateIssuer = true,
                ValidAudiences = config.Audiences,
                ValidateAudience = config.Audiences.Count > 0,
                RequireAudience = config.Audiences.Count > 0,
                IssuerSigningKeys = keys,
                // Envoy's key choice: a token's kid selects the keys with that kid (or none); a token without kid tries all.
                TryAllIssuerSigningKeys = false,
                IssuerSigningKeyResolver = (_, _, kid, _) => string.IsNullOrEmpty(kid) ? keys : keys.Where(k => string.IsNullOrEmpty(k.KeyId) || k.KeyId == kid),
                RequireSignedTokens = true,
                // Lifetime is checked before, against the injected clock (Lifetime); the library would read the system's.
                ValidateLifetime = false,
                RequireExpirationTime = false,
                ValidateIssuerSigningKey = false,
                SaveSigninToken = false,
            };
            var sources = new JwtTokenSources(config);
            return new JwtProvider(config, sources, parameters, time, cacheCapacity) { Edits = new JwtUpstreamEdits(config, sources) };
        }

        /// <summary>Checks one token that this rule's sources found (in <paramref name="header"/> when it came from a header).</summary>
        public JwtVerdict Validate(string token, string? header)
        {
            if (_verified.TryGetValue(token, out var known))
            {
                // Verified before under these keys and rules: only the clock can change the verdict.
                if (Lifetime(known.ValidFrom, known.ValidTo, _time.GetUtcNow().UtcDateTime) is { } expired)
                {
                    _verified.TryRemove(token, out _);
                    return JwtVerdict.Refused(expired);
                }

                return new JwtVerdict(known.User, null, Edits.For(known.EncodedPayload, known.User.Claims, header));
            }

            if (!Handler.CanReadToken(token))
            {
                return JwtVerdict.Refused(JwtFailures.BadFormat);
            }

            JsonWebToken jwt;
            try
            {
                jwt = Handler.ReadJsonWebToken(token);
            }
            catch (ArgumentException)
            {
                // The handler reports a header or payload that is not base64url JSON by throwing; a bad request, not a bug.
                return JwtVerdict.Refused(JwtFailures.BadFormat);
            }

            if (!string.Equals(jwt.Issuer, Config.Issuer, StringComparison.Ordinal))
            {
                return JwtVerdict.Refused(JwtFailures.UnknownIssuer);
            }

            // Envoy checks the time constraints before it looks for a key: an expired token is "expired" whatever its signature.
            if (Lifetime(jwt.ValidFrom, jwt.ValidTo, _time.GetUtcNow().UtcDateTime) is { } lifetime)
            {
                return JwtVerdict.Refused(lifetime);
            }

            if (_parameters is null)
            {
                return JwtVerdict.Refused(JwtFailures.JwksUnavailable);
            }

            // With keys in hand (no configuration manager), validation never waits: the task is complete when it returns.
            var validation = Handler.ValidateTokenAsync(jwt, _parameters);
            var result = validation.IsCompleted ? validation.Result : validation.GetAwaiter().GetResult();
            if (!result.IsValid)
            {
                return JwtVerdict.Refused(JwtFailures.Of(result.Exception));
            }

            var user = Identity(jwt);
            if (_cacheCapacity > 0)
            {
                if (_verified.Count >= _cacheCapacity)
                {
                    _verified.Clear(); // bounded: a flood of distinct tokens costs re-verification, never memory
                }

                _verified[token] = new Verified(user, jwt.EncodedPayload, jwt.ValidFrom, jwt.ValidTo);
            }

            return new JwtVerdict(user, null, Edits.For(jwt.EncodedPayload, user.Claims, header));
        }

        /// <summary>Tokens currently remembered (tests).</summary>
        internal int Cached => _verified.Count;

        private sealed record Verified(JwtIdentity User, string EncodedPayload, DateTime ValidFrom, DateTime ValidTo);

        /// <summary>
        /// Envoy's time constraints with its 60 s of clock skew: <c>exp</c> must not be past, <c>nbf</c> not ahead;
        /// a token without them is not limited by them (Envoy's <c>require_expiration</c> is off in Istio).
        /// </summary>
        private static string? Lifetime(DateTime validFrom, DateTime validTo, DateTime now)
        {
            // ValidTo and ValidFrom are DateTime.MinValue when the claim is absent.
            if (validTo != DateTime.MinValue && now > validTo + ClockSkew)
            {
                return JwtFailures.Expired;
            }

            return validFrom != DateTime.MinValue && now + ClockSkew < validFrom ? JwtFailures.NotYetValid : null;
        }

        private static JwtIdentity Identity(JsonWebToken jwt)
        {
            using var payload = JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(jwt.EncodedPayload));
            var claims = payload.RootElement.Clone();
            var presenter = jwt.TryGetPayloadValue<string>("azp", out var azp) ? azp : "";
            return new JwtIdentity($"{jwt.Issuer}/{jwt.Subject}", [.. jwt.Audiences], presenter, claims);
        }

        /// <summary>The signing keys of a JWKS document; null when there is none or it holds no usable key.</summary>
        private static List<SecurityKey>? Keys(string? jwks)
        {
            if (string.IsNullOrWhiteSpace(jwks))
            {
                return null;
            }

            try
            {
                var keys = new JsonWebKeySet(jwks).GetSigningKeys().ToList();
                return keys.Count == 0 ? null : keys;
            }
            catch (ArgumentException)
            {
                return null; // the control plane validated it; a document that still fails verifies nothing
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }
}

/// <summary>
/// What authentication made of a request: <see cref="User"/> for a verified token, <see cref="Failure"/> (the 401's
/// body) for a refused one, neither for a request without a token. <see cref="RequestEdits"/>: what the verified token
/// changes in the request sent upstream (<see cref="JwtUpstreamEdits"/>).
/// </summary>
internal readonly record struct JwtVerdict(JwtIdentity? User, string? Failure, HeaderOperations? RequestEdits)
{
    public static JwtVerdict Refused(string failure) => new(null, failure, null);
}


/// <summary>Envoy's messages (jwt_verify_lib's status texts), the body of the 401.</summary>
internal static class JwtFailures
{
    public const string BadFormat = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections";
    public const string UnknownIssuer = "Jwt issuer is not configured";
    public const string Expired = "Jwt is expired";
    public const string NotYetValid = "Jwt not yet valid";
    public const string AudienceNotAllowed = "Audiences in Jwt are not allowed";
    public const string KidAlgMismatch = "Jwks doesn't have key to match kid or alg from Jwt";
    public const string JwksUnavailable = "Jwks remote fetch is failed";
    public const string VerificationFails = "Jwt verification fails";

    public static string Of(Exception? error) => error switch
    {
        SecurityTokenExpiredException => Expired,
        SecurityTokenNotYetValidException => NotYetValid,
        SecurityTokenInvalidIssuerException => UnknownIssuer,
        SecurityTokenInvalidAudienceException => AudienceNotAllowed,
        SecurityTokenSignatureKeyNotFoundException => KidAlgMismatch,
        SecurityTokenMalformedException => BadFormat,
        _ => VerificationFails, // a forged signature, alg none, a key of the wrong type
    };
}
