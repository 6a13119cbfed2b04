using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Pipeline;

/// <summary>
/// Stage (2) of <see cref="RequestPipeline"/>: what may reach the route at all, decided before any policy of the route
/// runs (Envoy's RBAC and JWT filters sit there). Authorization (AuthorizationPolicy) and end-user authentication
/// (RequestAuthentication) plug in here, once for every engine; the stage refuses with the reply it returns.
/// Nothing is checked yet.
/// </summary>
internal sealed class InboundPolicy
{
    /// <summary>Null when the request may go on; otherwise the answer that refuses it (e.g. 403 <c>RBAC: access denied</c>).</summary>
    public LocalReply? Check(IExchange exchange, string listener, CompiledRoute route) => null;
}
