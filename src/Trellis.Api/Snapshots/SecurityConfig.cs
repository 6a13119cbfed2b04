using Trellis.Api.Security;

namespace Trellis.Api.Snapshots;

/// <summary>
/// The AuthorizationPolicies that select one listener's workload, as the proxy evaluates them (Istio's order: DENY,
/// then ALLOW; a workload with no ALLOW policy allows what no DENY refuses; AUDIT only marks what it matches). Rules
/// keep Istio's own shape (<see cref="Rule"/>): the proxy compiles them into matchers.
/// </summary>
/// <param name="ExtAuthz">The external authorizer the CUSTOM policies call (one per workload, as in Istio); null when none.</param>
public sealed record AuthorizationConfig(IReadOnlyList<AuthorizationPolicyConfig> Policies, ExtAuthzConfig? ExtAuthz = null);

/// <summary>
/// An HTTP external authorizer (mesh config <c>extensionProviders[].envoyExtAuthzHttp</c>) as the proxy calls it: the
/// request's method, <c>PathPrefix</c> + path and host, the listed headers, no body; 2xx allows, anything else is
/// answered to the client; unreachable is <c>StatusOnError</c> unless <c>FailOpen</c>.
/// </summary>
public sealed record ExtAuthzConfig(
    string Provider,
    string Service,
    int Port,
    TimeSpan Timeout,
    string PathPrefix,
    bool FailOpen,
    int StatusOnError,
    IReadOnlyList<string> IncludeRequestHeadersInCheck,
    IReadOnlyDictionary<string, string> IncludeAdditionalHeadersInCheck,
    IReadOnlyList<string> HeadersToUpstreamOnAllow,
    IReadOnlyList<string> HeadersToDownstreamOnDeny);

/// <param name="Name"><c>namespace/name</c> of the policy, for logs and <c>route explain</c>.</param>
/// <param name="Action">ALLOW, DENY, AUDIT or CUSTOM (its rules say when <see cref="AuthorizationConfig.ExtAuthz"/> is called).</param>
public sealed record AuthorizationPolicyConfig(string Name, AuthorizationEffect Action, IReadOnlyList<Rule> Rules);

/// <summary>What a matching AuthorizationPolicy does.</summary>
public enum AuthorizationEffect
{
    Allow,
    Deny,

    /// <summary>Istio's AUDIT: never changes the decision; a request it matches is marked audited (access log, counter).</summary>
    Audit,

    /// <summary>Istio's CUSTOM: a request its rules match is checked by the external authorizer first.</summary>
    Custom,
}
