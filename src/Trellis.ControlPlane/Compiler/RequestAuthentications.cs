using Trellis.Api.Security;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// RequestAuthentications → the <see cref="AuthenticationConfig"/> of a workload's inbound listener (and of a gateway's
/// listeners, <see cref="GatewayWorkload"/>). A policy selects a
/// workload as in Istio: one in the root namespace (<c>istio-system</c>) applies mesh-wide, one in the workload's
/// namespace to all its workloads, a <c>selector</c> narrows either to the workloads whose labels it matches; the JWT
/// rules of every selecting policy add up (Istio merges them into one list of providers). A rule's keys are its inline
/// <c>jwks</c>, else the document fetched from its <c>jwksUri</c> (<see cref="MeshState.Jwks"/>), else none: the proxy
/// then refuses every token of that issuer. Policies attached by <c>targetRef(s)</c> are stored without behaviour
/// (reported as not enforced).
/// </summary>
internal static class RequestAuthentications
{
    public static AuthenticationConfig? Listener(MeshIndex index, MeshState state, IReadOnlyDictionary<string, string> labels, string ns)
    {
        var providers = index.RequestAuthentications
            .Where(p => p.Spec.TargetRef is null && p.Spec.TargetRefs.Count == 0)
            .Where(p => p.Namespace == ns || p.Namespace == Authorization.RootNamespace)
            .Where(p => Labels.Selects(p.Spec.Selector?.MatchLabels ?? new Dictionary<string, string>(), labels))
            .SelectMany(p => p.Spec.JwtRules.Select((rule, i) => Provider($"{p.Namespace}/{p.Name}/{i}", rule, state)))
            .ToList();
        return providers.Count == 0 ? null : new AuthenticationConfig(providers);
    }

    private static JwtProviderConfig Provider(string name, JwtRule rule, MeshState state) => new(
        name,
        rule.Issuer,
        rule.Audiences,
        rule.Jwks ?? (rule.JwksUri is { } uri && state.Jwks.TryGetValue(uri, out var fetched) ? fetched : null),
        [.. rule.FromHeaders.Select(h => new JwtHeaderSource(h.Name, h.Prefix ?? ""))],
        rule.FromParams,
        rule.FromCookies,
        rule.ForwardOriginalToken ?? false,
        string.IsNullOrEmpty(rule.OutputPayloadToHeader) ? null : rule.OutputPayloadToHeader,
        rule.OutputClaimToHeaders.Count == 0 ? null : [.. rule.OutputClaimToHeaders.Select(c => new JwtClaimHeader(c.Header, c.Claim))]);
}
