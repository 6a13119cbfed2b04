using Trellis.Api.Security;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// AuthorizationPolicies → the <see cref="AuthorizationConfig"/> of a workload's inbound listener (and of a gateway's listeners,
/// <see cref="GatewayWorkload"/>). A policy selects a
/// workload as in Istio: one in the root namespace (<c>istio-system</c>) applies mesh-wide, one in the workload's
/// namespace to all its workloads; a <c>selector</c> narrows either to the workloads whose labels it matches.
/// CUSTOM policies reach the proxy with their external authorizer (<see cref="ExtAuthzConfig"/>). Policies attached by
/// <c>targetRef(s)</c> are stored without behaviour (reported as not enforced) and never reach a proxy.
/// </summary>
internal static class Authorization
{
    /// <summary>Istio's root namespace: policies there apply to every namespace.</summary>
    public const string RootNamespace = Trellis.Api.Networking.MeshConfig.RootNamespace;

    public static AuthorizationConfig? Listener(MeshIndex index, IReadOnlyDictionary<string, string> labels, string ns)
    {
        var selecting = index.AuthorizationPolicies
            .Where(p => p.Spec.TargetRef is null && p.Spec.TargetRefs.Count == 0)
            .Where(p => p.Namespace == ns || p.Namespace == RootNamespace)
            .Where(p => Labels.Selects(p.Spec.Selector?.MatchLabels ?? new Dictionary<string, string>(), labels))
            .ToList();

        // CUSTOM: Istio allows one provider per workload; the oldest CUSTOM policy's provider is the one. A CUSTOM policy
        // naming another provider, or one the mesh config does not declare as envoyExtAuthzHttp, fails closed as in
        // Istio: what its rules match is refused (a DENY policy with its rules).
        var authorizer = selecting.Where(p => p.Spec.Action == AuthorizationAction.Custom)
            .Select(p => index.MeshConfig.Telemetry.ExtensionProviders.OfType<ExtAuthzHttpProvider>().FirstOrDefault(e => e.Name == p.Spec.Provider?.Name))
            .FirstOrDefault(e => e is not null);
        var policies = selecting
            .Select(p => new AuthorizationPolicyConfig(
                $"{p.Namespace}/{p.Name}",
                p.Spec.Action == AuthorizationAction.Custom && p.Spec.Provider?.Name != authorizer?.Name ? AuthorizationEffect.Deny : Effect(p.Spec.Action),
                p.Spec.Rules))
            .ToList();
        return policies.Count == 0 ? null : new AuthorizationConfig(policies, authorizer is null ? null : ExtAuthz(authorizer));
    }

    private static ExtAuthzConfig ExtAuthz(ExtAuthzHttpProvider p) => new(
        p.Name, p.Service, p.Port, p.Timeout, p.PathPrefix, p.FailOpen, p.StatusOnError, p.IncludeRequestHeadersInCheck,
        p.IncludeAdditionalHeadersInCheck, p.HeadersToUpstreamOnAllow, p.HeadersToDownstreamOnDeny);

    private static AuthorizationEffect Effect(AuthorizationAction? action) => action switch
    {
        AuthorizationAction.Deny => AuthorizationEffect.Deny,
        AuthorizationAction.Audit => AuthorizationEffect.Audit,
        AuthorizationAction.Custom => AuthorizationEffect.Custom,
        _ => AuthorizationEffect.Allow,
    };
}
