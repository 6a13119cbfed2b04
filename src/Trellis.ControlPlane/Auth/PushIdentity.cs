using Trellis.Api.Access;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Auth;

/// <summary>
/// A proxy gets only the snapshot meant for it (istiod checks a proxy's claimed identity against its credential the
/// same way): the push stream's hello must name what the credential proves. A node's identity opens streams for
/// proxies on that node only; a proxy token opens the stream of the proxy it is named after; admin may open any
/// (to debug). The snapshot carries the workload certificates' trust bundle only, never a key.
/// </summary>
public static class PushIdentity
{
    /// <summary>Why <paramref name="principal"/> may not receive <paramref name="hello"/>'s snapshot, or null when it may.</summary>
    public static string? Refusal(ApiPrincipal? principal, ProxyHello hello) => principal switch
    {
        null => "the push stream needs a node identity or a proxy token",
        { Node: { } node } when hello.Node != node =>
            $"node {node} may open the push stream only for proxies on node {node}, not for {hello.Name} (node {hello.Node ?? "none"})",
        { Node: not null } => null,
        { Role: ApiRole.Admin } => null,
        { Role: ApiRole.Proxy } when hello.Name != principal.Name =>
            $"token \"{principal.Name}\" may open the push stream only as proxy \"{principal.Name}\", not as \"{hello.Name}\"",
        { Role: ApiRole.Proxy } => null,
        _ => $"{principal.Describe()} may not open the push stream",
    };

    /// <summary>Why <paramref name="principal"/> may not report for <paramref name="node"/> to the registry, or null.</summary>
    public static string? RegistryRefusal(ApiPrincipal? principal, string node) => principal switch
    {
        { Node: { } own } when own != node => $"node {own} may report only its own node, not {node}",
        { Node: not null } or { Role: ApiRole.Admin } => null,
        null => "the registry needs a node identity",
        _ => $"{principal.Describe()} may not report nodes: only the node itself (its agent) may",
    };
}
