using Trellis.Api.Networking;

namespace Trellis.Api.Security;

/// <summary>Istio <c>RequestAuthentication</c>: which JWTs the selected workloads accept (rejecting invalid ones).</summary>
public sealed record RequestAuthenticationSpec
{
    public WorkloadLabelSelector? Selector { get; init; }

    public PolicyTargetReference? TargetRef { get; init; }

    public IReadOnlyList<PolicyTargetReference> TargetRefs { get; init; } = [];

    public IReadOnlyList<JwtRule> JwtRules { get; init; } = [];
}

public sealed record JwtRule
{
    public required string Issuer { get; init; }

    public IReadOnlyList<string> Audiences { get; init; } = [];

    public string? JwksUri { get; init; }

    /// <summary>Inline JWKS document (JSON text).</summary>
    public string? Jwks { get; init; }

    public IReadOnlyList<JwtHeader> FromHeaders { get; init; } = [];

    public IReadOnlyList<string> FromParams { get; init; } = [];

    public IReadOnlyList<string> FromCookies { get; init; } = [];

    public string? OutputPayloadToHeader { get; init; }

    public bool? ForwardOriginalToken { get; init; }

    public IReadOnlyList<ClaimToHeader> OutputClaimToHeaders { get; init; } = [];

    public string? Timeout { get; init; }
}

public sealed record JwtHeader
{
    public required string Name { get; init; }

    public string? Prefix { get; init; }
}

public sealed record ClaimToHeader
{
    public required string Header { get; init; }

    public required string Claim { get; init; }
}
