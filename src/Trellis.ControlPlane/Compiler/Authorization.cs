using Trellis.Api.Security;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// AuthorizationPolicies → the <see cref="AuthorizationConfig"/> of a workload's inbound listener (and of a gateway's listeners,
/// <see cref="GatewayWorkload"/>). A policy selects a
/// workload as in Istio: one in the root namespace (<c>istio-system</c>) applies mesh-wide, one in the workload's
/// namespace to all its workloads; a <c>selector</c> narrows either to the workloads whose labels it matches.
/// Policies attached by <c>targetRef(s)</c>, and the CUSTOM action, are stored without behaviour (reported as not
/// enforced) and never reach a proxy.
/// </summary>
internal static class Authorization
{
    /// <summary>Istio's root namespace: policies there apply to every namespace.</summary>
    public const string RootNamespace = Trellis.Api.Networking.MeshConfig.RootNamespace;

    public static AuthorizationConfig? Listener(MeshIndex index, IReadOnlyDictionary<string, string> labels, string ns)
    {
        var policies = index.AuthorizationPolicies
            .Where(p => p.Spec.Action is null or AuthorizationAction.Allow or AuthorizationAction.Deny or AuthorizationAction.Audit)
            .Where(p => p.Spec.TargetRef is null && p.Spec.TargetRefs.Count == 0)
            .Where(p => p.Namespace == ns || p.Namespace == RootNamespace)
            .Where(p => Labels.Selects(p.Spec.Selector?.MatchLabels ?? new Dictionary<string, string>(), labels))
            .Select(p => new AuthorizationPolicyConfig($"{p.Namespace}/{p.Name}", Effect(p.Spec.Action), p.Spec.Rules))
            .ToList();
        return policies.Count == 0 ? null : new AuthorizationConfig(policies);
    }

    private static AuthorizationEffect Effect(AuthorizationAction? action) => action switch
    {
        AuthorizationAction.Deny => AuthorizationEffect.Deny,
        AuthorizationAction.Audit => AuthorizationEffect.Audit,
        _ => AuthorizationEffect.Allow,
    };
}
