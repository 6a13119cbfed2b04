using Trellis.Api.Security;

namespace Trellis.Api.Snapshots;

/// <summary>
/// The AuthorizationPolicies that select one listener's workload, as the proxy evaluates them (Istio's order: DENY,
/// then ALLOW; a workload with no ALLOW policy allows what no DENY refuses; AUDIT only marks what it matches). Rules
/// keep Istio's own shape (<see cref="Rule"/>): the proxy compiles them into matchers.
/// </summary>
public sealed record AuthorizationConfig(IReadOnlyList<AuthorizationPolicyConfig> Policies);

/// <param name="Name"><c>namespace/name</c> of the policy, for logs and <c>route explain</c>.</param>
/// <param name="Action">ALLOW, DENY or AUDIT (CUSTOM never reaches a proxy: see docs/security.md).</param>
public sealed record AuthorizationPolicyConfig(string Name, AuthorizationEffect Action, IReadOnlyList<Rule> Rules);

/// <summary>What a matching AuthorizationPolicy does.</summary>
public enum AuthorizationEffect
{
    Allow,
    Deny,

    /// <summary>Istio's AUDIT: never changes the decision; a request it matches is marked audited (access log, counter).</summary>
    Audit,
}
