using System.Globalization;
using Trellis.Api.GatewayApi;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>
/// A GRPCRoute's rules as proxy routes. A gRPC call is an HTTP/2 POST to <c>/{service}/{method}</c>, so a method match
/// is a path match, as Istio writes it (pilot's <c>createGRPCURIMatch</c>): service and method exact, the exact path;
/// the service alone, the prefix <c>/{service}/</c>; the method alone, <c>/[^/]+/{method}</c>; RegularExpression, the
/// pattern <c>/{service}/{method}</c> with <c>[^/]+</c> for the part not given. Filters, backends and weights are an
/// HTTPRoute rule's (<see cref="RuleActions"/>), without timeouts or retry (a GRPCRoute has none).
/// </summary>
internal static class GrpcRouteRules
{
    public static List<RankedRoute> Translate(GrpcRouteEntry route, int listenerPort, ClusterSet clusters, GatewayApiIndex index)
    {
        var id = route.Head.Id;
        var result = new List<RankedRoute>();
        for (var r = 0; r < route.Spec.Rules.Count; r++)
        {
            var rule = route.Spec.Rules[r];
            var action = RuleActions.Build(id, rule.Filters, rule.BackendRefs, null, null, listenerPort, clusters, index);
            IReadOnlyList<GrpcRouteMatch> matches = rule.Matches.Count > 0 ? rule.Matches : [new GrpcRouteMatch()];
            for (var m = 0; m < matches.Count; m++)
            {
                var match = matches[m];
                var (uri, rank, length) = Path(match.Method);
                // The spec ranks GRPCRoute matches by the longest service, then the longest method, then the most
                // headers: the path's length orders the first two the same way, since the path holds both.
                var precedence = new RoutePrecedence(rank, length, false, match.Headers.Count, 0, id.Created, $"{id.Namespace}/{id.Name}", r, m);
                var name = string.Create(CultureInfo.InvariantCulture, $"{id.Namespace}/{id.Name}/{rule.Name ?? "rule" + r}/{m}");
                var conditions = new RouteMatchConfig(Uri: uri, Headers: HttpRouteRules.Named(match.Headers, lowerNames: true));
                result.Add(new RankedRoute(precedence, action.Route with { Name = name, Matches = [conditions] }));
            }
        }

        return result;
    }

    /// <summary>The path condition of a method match, with its precedence rank and length.</summary>
    public static (StringMatchConfig? Uri, int Rank, int Length) Path(GrpcMethodMatch? method)
    {
        var service = method?.Service ?? "";
        var name = method?.Method ?? "";
        if (service.Length == 0 && name.Length == 0)
        {
            return (null, RoutePrecedence.Prefix, 0);
        }

        if ((method?.Type ?? "Exact") == "RegularExpression")
        {
            var pattern = $"/{(service.Length > 0 ? service : "[^/]+")}/{(name.Length > 0 ? name : "[^/]+")}";
            return (new StringMatchConfig(StringMatchKind.Regex, pattern), RoutePrecedence.Regex, service.Length + name.Length);
        }

        if (name.Length == 0)
        {
            return (new StringMatchConfig(StringMatchKind.Prefix, $"/{service}/"), RoutePrecedence.Prefix, service.Length + 1);
        }

        return service.Length == 0
            ? (new StringMatchConfig(StringMatchKind.Regex, "/[^/]+/" + System.Text.RegularExpressions.Regex.Escape(name)), RoutePrecedence.Regex, name.Length)
            : (new StringMatchConfig(StringMatchKind.Exact, $"/{service}/{name}"), RoutePrecedence.Exact, service.Length + name.Length + 2);
    }
}
