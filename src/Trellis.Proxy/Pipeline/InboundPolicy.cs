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
/// <c>403 RBAC: access denied</c> with flag RBAC. The peer's principal is the SPIFFE ID its mTLS certificate proved
/// (<see cref="IExchange.Peer"/>); a cleartext peer has none, so rules on principals and namespaces never match it. Authentication runs first, as Envoy's JWT filter
/// before RBAC: the listener's RequestAuthentication (<see cref="JwtStage"/>) refuses an invalid token with 401 and
/// Envoy's message, and a valid one gives authorization its <c>request.auth.*</c>. A request an AUDIT policy matches is
/// marked (<see cref="Telemetry.ExchangeTelemetry.Audited"/>, written by the access log's
/// <c>%DYNAMIC_METADATA(envoy.common:access_log_hint)%</c>) and counted (<see cref="AuthorizationStats"/>).
/// </summary>
internal sealed class InboundPolicy(SnapshotHolder snapshots, TimeProvider time, AuthorizationStats stats)
{
    /// <summary>Istio's body for a request the RBAC filter refuses.</summary>
    public static readonly LocalReply Denied = new(403, Encoding.ASCII.GetBytes("RBAC: access denied"), ResponseFlags.UnauthorizedDenied, ForwardError.None);

    private readonly JwtStage _jwt = new(snapshots, time);
    private Compiled _compiled = new(null, FrozenDictionary<string, ListenerPolicies>.Empty);

    /// <summary>
    /// Null when the request may go on; otherwise the answer that refuses it (e.g. 403 <c>RBAC: access denied</c>).
    /// <paramref name="requestEdits"/>: what a verified token changes in the request sent upstream (the token removed,
    /// Istio's <c>outputPayloadToHeader</c> and <c>outputClaimToHeaders</c>); null when nothing.
    /// </summary>
    /// <paramref name="external"/>: set when a CUSTOM policy matched; the caller then awaits <see cref="CheckExternalAsync"/>,
    /// which asks the authorizer and decides the rest. Listeners without CUSTOM policies never take that step.
    public LocalReply? Check(IExchange exchange, string listener, out HeaderOperations? requestEdits, out ExternalCheck? external)
    {
        external = null;
        var user = _jwt.Authenticate(exchange.Request, listener);
        requestEdits = user.RequestEdits;
        if (user.Failure is { } failure)
        {
            return Unauthenticated(failure);
        }

        if (!For(snapshots.Current).TryGetValue(listener, out var listenerPolicies))
        {
            return null;
        }

        var identity = new RequestIdentity(exchange.Peer?.Principal ?? "", exchange.ClientAddress, user.User);
        if (listenerPolicies.Authorizer is { } authorizer && listenerPolicies.Policies.MatchesCustom(exchange.Request, identity))
        {
            external = new ExternalCheck(authorizer, listenerPolicies.Policies, identity);
            return null;
        }

        return Decide(exchange, listenerPolicies.Policies, identity);
    }

    /// <summary>CUSTOM first: the authorizer's refusal goes back as it came; once it allows, DENY and ALLOW decide.</summary>
    public async ValueTask<(LocalReply? Refusal, HeaderOperations? RequestEdits)> CheckExternalAsync(IExchange exchange, ExternalCheck check, HeaderOperations? requestEdits)
    {
        var (refusal, upstream) = await check.Authorizer.CheckAsync(exchange).ConfigureAwait(false);
        return refusal is not null
            ? (refusal, requestEdits)
            : (Decide(exchange, check.Policies, check.Identity), HeaderOperations.Merge(requestEdits, upstream));
    }

    private LocalReply? Decide(IExchange exchange, AuthorizationPolicies policies, in RequestIdentity identity)
    {
        var decision = policies.Decide(exchange.Request, identity);
        if (decision.Audited)
        {
            // AUDIT never changes the decision: the request is marked for the access log and counted, whatever follows.
            exchange.Telemetry.Audited = true;
            stats.CountAudited();
        }

        return decision.Allowed ? null : Denied;
    }

    /// <summary>Envoy's answer to a token that fails: 401, its status text as the body, and an RFC 6750 challenge.</summary>
    private static LocalReply Unauthenticated(string failure) => new(
        401, Encoding.ASCII.GetBytes(failure), ResponseFlags.None, ForwardError.None, Headers: [new("www-authenticate", "Bearer realm=\"trellis\", error=\"invalid_token\"")]);

    /// <summary>The compiled policies of every listener of <paramref name="snapshot"/>; compiled on its first request.</summary>
    private FrozenDictionary<string, ListenerPolicies> For(CompiledSnapshot snapshot)
    {
        var compiled = Volatile.Read(ref _compiled);
        if (ReferenceEquals(compiled.Snapshot, snapshot))
        {
            return compiled.ByListener;
        }

        var byListener = snapshot.Source.Listeners
            .Where(l => l.Authorization is not null)
            .ToFrozenDictionary(
                l => l.Name,
                l => new ListenerPolicies(AuthorizationPolicies.Compile(l.Authorization!), l.Authorization!.ExtAuthz is { } ext ? new ExternalAuthorizer(ext, time) : null),
                StringComparer.Ordinal);
        Volatile.Write(ref _compiled, new Compiled(snapshot, byListener));
        return byListener;
    }

    private sealed record Compiled(CompiledSnapshot? Snapshot, FrozenDictionary<string, ListenerPolicies> ByListener);

    private sealed record ListenerPolicies(AuthorizationPolicies Policies, ExternalAuthorizer? Authorizer);
}

/// <summary>A request a CUSTOM policy matched, waiting for its authorizer (<see cref="InboundPolicy.CheckExternalAsync"/>).</summary>
internal sealed record ExternalCheck(ExternalAuthorizer Authorizer, AuthorizationPolicies Policies, RequestIdentity Identity);
