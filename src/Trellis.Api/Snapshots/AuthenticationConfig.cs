namespace Trellis.Api.Snapshots;

/// <summary>
/// The RequestAuthentication JWT rules that select one listener's workload, merged as Istio merges them (every rule of
/// every selecting policy is a provider; a token is checked against the provider whose issuer it names). A request
/// with an invalid token is refused (401); one without a token passes, for AuthorizationPolicy to decide about.
/// </summary>
public sealed record AuthenticationConfig(IReadOnlyList<JwtProviderConfig> Providers);

/// <param name="Name"><c>namespace/name</c> of the RequestAuthentication and the rule's index, for logs.</param>
/// <param name="Issuer">The <c>iss</c> a token must carry.</param>
/// <param name="Audiences">Accepted <c>aud</c> values; empty: any (Istio's default when none are listed).</param>
/// <param name="Jwks">The JWKS document (JSON), inline or fetched from <c>jwksUri</c> by the control plane; null when it
/// could not be had (the URI unreachable, the document invalid): every token of this issuer is then refused, as
/// istiod does by inlining a key that verifies nothing.</param>
/// <param name="FromHeaders">Where tokens are looked for; with <see cref="FromParams"/> and <see cref="FromCookies"/> all
/// empty, Istio's default: <c>Authorization: Bearer</c> and the <c>access_token</c> query parameter.</param>
/// <param name="ForwardOriginalToken">Keep the token's header on the request sent upstream (Istio removes it by default).</param>
/// <param name="OutputPayloadToHeader">Send the verified payload upstream in this header (base64url, as Envoy).</param>
/// <param name="OutputClaimToHeaders">Send these claims upstream as headers.</param>
public sealed record JwtProviderConfig(
    string Name,
    string Issuer,
    IReadOnlyList<string> Audiences,
    string? Jwks,
    IReadOnlyList<JwtHeaderSource> FromHeaders,
    IReadOnlyList<string> FromParams,
    IReadOnlyList<string> FromCookies,
    bool ForwardOriginalToken = false,
    string? OutputPayloadToHeader = null,
    IReadOnlyList<JwtClaimHeader>? OutputClaimToHeaders = null);

/// <summary>A request header that carries a token, after <paramref name="Prefix"/> (e.g. <c>Bearer </c>) when given.</summary>
public sealed record JwtHeaderSource(string Name, string Prefix = "");

/// <summary>The verified claim <paramref name="Claim"/> (a top-level name) sent upstream in header <paramref name="Header"/>.</summary>
public sealed record JwtClaimHeader(string Header, string Claim);
