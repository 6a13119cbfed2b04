using Trellis.Api;
using Trellis.Api.Networking;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>Who is sending: decides which matches apply (<c>sourceLabels</c>, <c>gateways</c>, <c>sourceNamespace</c>).</summary>
/// <param name="Gateways">Gateway names (<c>ns/name</c>) this traffic enters through; empty for mesh (sidecar) traffic.</param>
internal sealed record TrafficSource(IReadOnlyDictionary<string, string> Labels, string Namespace, IReadOnlySet<string> Gateways);

/// <summary>Where the routes are built for: the port they serve and whether its listener terminates TLS.</summary>
/// <param name="DestinationPort">The port a destination without <c>port</c> resolves to when its service has several (the
/// service port a sidecar's virtual host is for); null on gateways, where a destination must name its port or have one.</param>
/// <param name="ListenPort">The port the request arrived for: matches with another <c>port</c> are dropped, and
/// <c>derivePort: FROM_REQUEST_PORT</c> redirects to it.</param>
internal sealed record RouteContext(int? DestinationPort, int ListenPort, bool Tls = false);

/// <param name="CatchAll">The route matches every request (no match, or a match of only <c>uri</c> prefix <c>/</c> or regex
/// <c>.*</c>): on a gateway such routes move behind the others (pilot's <c>SortVHostRoutes</c>).</param>
internal sealed record TranslatedRoute(RouteConfig Route, bool CatchAll);

/// <summary>
/// Translates a VirtualService's <c>http</c> rules into proxy routes with Istio's semantics (pilot's
/// <c>BuildHTTPRoutesForVirtualService</c> and <c>translateRoute</c>): matches for other sources, gateways or ports are
/// dropped; a rule that matches everything ends the VirtualService (nothing after it could match); forwarding rules get
/// the rewrite, timeout, retry policy (Istio's default when none is written) and mirrors; every rule gets its fault,
/// CORS policy and header operations.
/// </summary>
internal static class RouteTranslator
{
    /// <param name="splitCatchAll">On gateways: a rule whose matches end with a catch-all is split in two, the specific
    /// matches and the catch-all, because Envoy sees one route per match and Istio moves the catch-all ones last.</param>
    public static List<TranslatedRoute> Translate(Scoped<VirtualServiceSpec> vs, TrafficSource source, ClusterSet clusters, RouteContext context, bool splitCatchAll = false)
    {
        var routes = new List<TranslatedRoute>();
        for (var i = 0; i < vs.Spec.Http.Count; i++)
        {
            var http = vs.Spec.Http[i];
            var applicable = http.Match.Where(m => Applies(m, vs.Namespace, source) && (m.Port is null || m.Port == context.ListenPort)).ToList();
            if (http.Match.Count > 0 && applicable.Count == 0)
            {
                continue; // every match is for other sources, other gateways or other ports
            }

            var catchAll = http.Match.Count == 0 ? 0 : applicable.FindIndex(IsCatchAll);
            var kept = catchAll >= 0 && http.Match.Count > 0 ? applicable[..(catchAll + 1)] : applicable;
            var route = Route(vs, i, http, clusters, context) with { Matches = kept.Select(Match).ToList() };
            if (splitCatchAll && catchAll > 0)
            {
                routes.Add(new TranslatedRoute(route with { Matches = route.Matches.Take(catchAll).ToList() }, false));
                routes.Add(new TranslatedRoute(route with { Matches = [route.Matches[catchAll]] }, true));
            }
            else
            {
                routes.Add(new TranslatedRoute(route, catchAll >= 0));
            }

            if (catchAll >= 0)
            {
                break; // routes match in order: nothing after a catch-all can match
            }
        }

        return routes;
    }

    /// <summary>Istio's <c>IsCatchAllRoute</c> on the Envoy route a match becomes: path prefix <c>/</c> or regex <c>.*</c>, no header (method, authority, scheme included) or query condition.</summary>
    public static bool IsCatchAll(HttpMatchRequest m) =>
        (m.Uri is null || m.Uri.Prefix == "/" || m.Uri.Regex == ".*")
        && m.Method is null && m.Authority is null && m.Scheme is null
        && m.Headers.Count == 0 && m.WithoutHeaders.Count == 0 && m.QueryParams.Count == 0;

    private static RouteConfig Route(Scoped<VirtualServiceSpec> vs, int index, HttpRoute http, ClusterSet clusters, RouteContext context)
    {
        var name = http.Name ?? $"{vs.Namespace}/{vs.Name}/{index}";
        var (requestHeaders, authority) = HeaderRules.Request(http.Headers?.Request);
        var route = new RouteConfig(
            name,
            [],
            [],
            RequestHeaders: requestHeaders,
            ResponseHeaders: HeaderRules.Response(http.Headers?.Response),
            Fault: HttpPolicies.Fault(http.Fault),
            Cors: HttpPolicies.Cors(http.CorsPolicy));
        if (http.Redirect is { } redirect)
        {
            return route with { Redirect = HttpPolicies.Redirect(redirect, context.ListenPort, context.Tls) };
        }

        if (http.DirectResponse is { } direct)
        {
            return route with { DirectResponse = HttpPolicies.DirectResponse(direct) };
        }

        string Cluster(Destination d) => clusters.Reference(d, vs.Namespace, context.DestinationPort);
        authority = http.Rewrite?.Authority ?? authority;
        var destinations = new List<WeightedClusterConfig>();
        foreach (var d in http.Route)
        {
            var (ops, destinationAuthority) = HeaderRules.Request(d.Headers?.Request);
            var response = HeaderRules.Response(d.Headers?.Response);
            if (http.Route.Count == 1)
            {
                // One destination: its authority is the route's unless the route rewrites it already (pilot's processDestination).
                authority ??= destinationAuthority;
                destinations.Add(new WeightedClusterConfig(Cluster(d.Destination), 100, ops, response));
            }
            else if (d.Weight is > 0)
            {
                destinations.Add(new WeightedClusterConfig(Cluster(d.Destination), d.Weight.Value, HeaderRules.WithHost(ops, destinationAuthority), response));
            }
        }

        var rewrite = http.Rewrite is { UriRegexRewrite: { Match: { } match } regex }
            ? new RewriteConfig(Authority: authority, UriRegex: new RegexRewriteConfig(match, regex.Rewrite ?? ""))
            : new RewriteConfig(http.Rewrite?.Uri is { Length: > 0 } uri ? uri : null, authority);
        return route with
        {
            Clusters = destinations,
            Rewrite = rewrite is { UriPrefix: null, Authority: null, UriRegex: null } ? null : rewrite,
            Timeout = http.Timeout is not null && Durations.TryParse(http.Timeout, out var t) && t > TimeSpan.Zero ? t : null,
            Retry = HttpPolicies.Retry(http.Retries),
            Mirrors = HttpPolicies.Mirrors(http, Cluster),
        };
    }

    private static bool Applies(HttpMatchRequest m, string vsNamespace, TrafficSource source) =>
        Applies(m.SourceLabels, m.SourceNamespace, m.Gateways, vsNamespace, source);

    /// <summary>
    /// Whether a match's source conditions hold for <paramref name="source"/>: <c>sourceLabels</c>, <c>sourceNamespace</c>
    /// and <c>gateways</c> (HTTP, TCP and TLS matches alike; the proxy never sees them, they choose the routes compiled).
    /// </summary>
    public static bool Applies(
        IReadOnlyDictionary<string, string> sourceLabels, string? sourceNamespace, IReadOnlyList<string> gateways, string vsNamespace, TrafficSource source)
    {
        if (!Labels.Selects(sourceLabels, source.Labels))
        {
            return false;
        }

        if (sourceNamespace is { } sourceNs && sourceNs != source.Namespace)
        {
            return false;
        }

        if (gateways.Count == 0)
        {
            return true;
        }

        var names = gateways.Select(g => g == "mesh" ? g : Qualify(g, vsNamespace));
        return source.Gateways.Count == 0 ? names.Contains("mesh") : names.Any(source.Gateways.Contains);
    }

    /// <summary><c>name</c> means <c>ns/name</c> in the VirtualService's namespace, as Istio resolves gateway references.</summary>
    public static string Qualify(string gateway, string ns) => gateway.Contains('/', StringComparison.Ordinal) ? gateway : $"{ns}/{gateway}";

    // The port was checked when the route was built (pilot drops matches for other ports), so it is not matched again:
    // a request through a sidecar's outbound listener carries the listener's port, not the service's.
    private static RouteMatchConfig Match(HttpMatchRequest m) => new(
        Uri: String(m.Uri),
        Method: String(m.Method),
        Authority: String(m.Authority),
        Scheme: String(m.Scheme),
        Headers: Strings(m.Headers),
        QueryParams: Strings(m.QueryParams),
        WithoutHeaders: Strings(m.WithoutHeaders),
        IgnoreUriCase: m.IgnoreUriCase ?? false);

    private static Dictionary<string, StringMatchConfig>? Strings(IReadOnlyDictionary<string, StringMatch> map) =>
        map.Count == 0 ? null : map.ToDictionary(kv => kv.Key.ToLowerInvariant(), kv => String(kv.Value) ?? new StringMatchConfig(StringMatchKind.Present, ""));

    /// <summary>Istio's <c>StringMatch</c>; null when empty (a presence match for headers and query parameters).</summary>
    public static StringMatchConfig? String(StringMatch? s) => s switch
    {
        { Exact: { } e } => new StringMatchConfig(StringMatchKind.Exact, e),
        { Prefix: { } p } => new StringMatchConfig(StringMatchKind.Prefix, p),
        { Regex: { } r } => new StringMatchConfig(StringMatchKind.Regex, r),
        _ => null,
    };
}
