using System.Collections.Frozen;
using System.Text;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Security;

namespace Trellis.Proxy.Pipeline;

/// <summary>
/// Stage (2) of <see cref="RequestPipeline"/>: what may reach the route at all, decided before any policy of the route
/// runs (Envoy's RBAC and JWT filters sit there), once for every engine. Authorization: the listener's
/// AuthorizationPolicies (<see cref="AuthorizationPolicies"/>), compiled once per snapshot; a refusal is Istio's
/// <c>403 RBAC: access denied</c> with flag RBAC. The peer's principal is empty until proxies speak mTLS, so rules on
/// principals and namespaces match no one yet (docs/security.md).
/// </summary>
internal sealed class InboundPolicy(SnapshotHolder snapshots)
{
    /// <summary>Istio's body for a request the RBAC filter refuses.</summary>
    public static readonly LocalReply Denied = new(403, Encoding.ASCII.GetBytes("RBAC: access denied"), ResponseFlags.UnauthorizedDenied, ForwardError.None);

    private Compiled _compiled = new(null, FrozenDictionary<string, AuthorizationPolicies>.Empty);

    /// <summary>Null when the request may go on; otherwise the answer that refuses it (e.g. 403 <c>RBAC: access denied</c>).</summary>
    public LocalReply? Check(IExchange exchange, string listener, CompiledRoute route)
    {
        if (!For(snapshots.Current).TryGetValue(listener, out var policies))
        {
            return null;
        }

        var identity = new RequestIdentity("", exchange.ClientAddress, null);
        return policies.Decide(exchange.Request, identity).Allowed ? null : Denied;
    }

    /// <summary>The compiled policies of every listener of <paramref name="snapshot"/>; compiled on its first request.</summary>
    private FrozenDictionary<string, AuthorizationPolicies> For(CompiledSnapshot snapshot)
    {
        var compiled = Volatile.Read(ref _compiled);
        if (ReferenceEquals(compiled.Snapshot, snapshot))
        {
            return compiled.ByListener;
        }

        var byListener = snapshot.Source.Listeners
            .Where(l => l.Authorization is not null)
            .ToFrozenDictionary(l => l.Name, l => AuthorizationPolicies.Compile(l.Authorization!), StringComparer.Ordinal);
        Volatile.Write(ref _compiled, new Compiled(snapshot, byListener));
        return byListener;
    }

    private sealed record Compiled(CompiledSnapshot? Snapshot, FrozenDictionary<string, AuthorizationPolicies> ByListener);
}
