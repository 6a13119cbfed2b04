using Trellis.Api;
using Trellis.Api.Networking;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>Who is sending: decides which matches apply (<c>sourceLabels</c>, <c>gateways</c>, <c>sourceNamespace</c>).</summary>
/// <param name="Gateways">Gateway names (<c>ns/name</c>) this traffic enters through; empty for mesh (sidecar) traffic.</param>
internal sealed record TrafficSource(IReadOnlyDictionary<string, string> Labels, string Namespace, IReadOnlySet<string> Gateways);

/// <summary>Translates a VirtualService's <c>http</c> routes into proxy routes, Istio's semantics.</summary>
internal static class RouteTranslator
{
    public static List<RouteConfig> Translate(Scoped<VirtualServiceSpec> vs, TrafficSource source, ClusterSet clusters, int? contextPort)
    {
        var routes = new List<RouteConfig>();
        for (var i = 0; i < vs.Spec.Http.Count; i++)
        {
            var http = vs.Spec.Http[i];
            var matches = http.Match.Where(m => Applies(m, vs.Namespace, source)).Select(Match).ToList();
            if (http.Match.Count > 0 && matches.Count == 0)
            {
                continue; // every match is for other sources, other gateways or other ports
            }

            var weighted = http.Route
                .Select(d => new WeightedClusterConfig(clusters.Reference(d.Destination, vs.Namespace, contextPort), d.Weight ?? (http.Route.Count == 1 ? 100 : 0)))
                .ToList();
            var timeout = http.Timeout is not null && Durations.TryParse(http.Timeout, out var t) && t > TimeSpan.Zero ? t : (TimeSpan?)null;
            routes.Add(new RouteConfig(
                Name: http.Name ?? $"{vs.Namespace}/{vs.Name}/{i}",
                Matches: matches,
                Clusters: weighted,
                Redirect: http.Redirect is { } r ? new RedirectConfig(r.Uri, r.Authority, r.Scheme, r.Port, r.RedirectCode ?? 301) : null,
                Rewrite: http.Rewrite is { } w && (w.Uri is not null || w.Authority is not null) ? new RewriteConfig(w.Uri, w.Authority) : null,
                RequestHeaders: Operations(http.Headers?.Request),
                ResponseHeaders: Operations(http.Headers?.Response),
                Timeout: timeout));
        }

        return routes;
    }

    private static bool Applies(HttpMatchRequest m, string vsNamespace, TrafficSource source)
    {
        if (!Labels.Selects(m.SourceLabels, source.Labels))
        {
            return false;
        }

        if (m.SourceNamespace is { } sourceNs && sourceNs != source.Namespace)
        {
            return false;
        }

        if (m.Gateways.Count == 0)
        {
            return true;
        }

        var names = m.Gateways.Select(g => g == "mesh" ? g : Qualify(g, vsNamespace));
        return source.Gateways.Count == 0 ? names.Contains("mesh") : names.Any(source.Gateways.Contains);
    }

    /// <summary><c>name</c> means <c>ns/name</c> in the VirtualService's namespace, as Istio resolves gateway references.</summary>
    public static string Qualify(string gateway, string ns) => gateway.Contains('/', StringComparison.Ordinal) ? gateway : $"{ns}/{gateway}";

    private static RouteMatchConfig Match(HttpMatchRequest m) => new(
        Uri: String(m.Uri),
        Method: String(m.Method),
        Authority: String(m.Authority),
        Headers: Strings(m.Headers),
        QueryParams: Strings(m.QueryParams),
        WithoutHeaders: Strings(m.WithoutHeaders),
        IgnoreUriCase: m.IgnoreUriCase ?? false,
        Port: m.Port);

    private static Dictionary<string, StringMatchConfig>? Strings(IReadOnlyDictionary<string, StringMatch> map) =>
        map.Count == 0 ? null : map.ToDictionary(kv => kv.Key.ToLowerInvariant(), kv => String(kv.Value) ?? new StringMatchConfig(StringMatchKind.Present, ""));

    private static StringMatchConfig? String(StringMatch? s) => s switch
    {
        { Exact: { } e } => new StringMatchConfig(StringMatchKind.Exact, e),
        { Prefix: { } p } => new StringMatchConfig(StringMatchKind.Prefix, p),
        { Regex: { } r } => new StringMatchConfig(StringMatchKind.Regex, r),
        _ => null,
    };

    private static HeaderOperationsConfig? Operations(HeaderOperations? ops) =>
        ops is null ? null : new HeaderOperationsConfig(ops.Set.Count > 0 ? ops.Set : null, ops.Add.Count > 0 ? ops.Add : null, ops.Remove.Count > 0 ? ops.Remove : null);
}
