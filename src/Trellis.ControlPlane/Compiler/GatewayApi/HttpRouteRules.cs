using System.Globalization;
using System.Text.RegularExpressions;
using Trellis.Api.GatewayApi;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>One proxy route of a Gateway API rule, with its place in the spec's precedence.</summary>
internal sealed record RankedRoute(RoutePrecedence Rank, RouteConfig Route);

/// <summary>
/// An HTTPRoute's rules as proxy routes. Each match of each rule becomes its own route, so that the spec's precedence
/// (which ranks matches, not rules) can order them across all the routes serving a hostname.
/// </summary>
internal static class HttpRouteRules
{
    public static List<RankedRoute> Translate(HttpRouteEntry route, int listenerPort, ClusterSet clusters, GatewayApiIndex index)
    {
        var id = route.Head.Id;
        var result = new List<RankedRoute>();
        for (var r = 0; r < route.Spec.Rules.Count; r++)
        {
            var rule = route.Spec.Rules[r];
            var action = RuleActions.Build(id, rule.Filters, rule.BackendRefs, rule.Timeouts, rule.Retry, listenerPort, clusters, index);
            IReadOnlyList<HttpRouteMatch> matches = rule.Matches.Count > 0 ? rule.Matches : [new HttpRouteMatch()];
            for (var m = 0; m < matches.Count; m++)
            {
                var match = matches[m];
                var name = string.Create(CultureInfo.InvariantCulture, $"{id.Namespace}/{id.Name}/{rule.Name ?? "rule" + r}/{m}");
                var (rank, length) = PathRank(match.Path);
                var precedence = new RoutePrecedence(rank, length, match.Method is not null, match.Headers.Count, match.QueryParams.Count,
                    id.Created, $"{id.Namespace}/{id.Name}", r, m);
                foreach (var half in PathHalves(match.Path, action))
                {
                    var conditions = new RouteMatchConfig(
                        Uri: half.Uri,
                        Method: match.Method is { } method ? new StringMatchConfig(StringMatchKind.Exact, method) : null,
                        Headers: Named(match.Headers, lowerNames: true),
                        QueryParams: Named(match.QueryParams, lowerNames: false));
                    result.Add(new RankedRoute(precedence, action.Route with
                    {
                        Name = half.Suffix.Length == 0 ? name : name + half.Suffix,
                        Matches = [conditions],
                        Redirect = action.Route.Redirect is { } redirect && half.RedirectUri is { } uri ? redirect with { Uri = uri.Full, PrefixRewrite = uri.Prefix } : action.Route.Redirect,
                        Rewrite = half.RewriteUri is { } rewrite ? (action.Route.Rewrite ?? new RewriteConfig()) with { UriPrefix = rewrite } : action.Route.Rewrite,
                    }));
                }
            }
        }

        return result;
    }

    /// <summary>A path condition and the path modifiers that go with it.</summary>
    private sealed record PathHalf(StringMatchConfig? Uri, string Suffix, string? RewriteUri, (string? Full, string? Prefix)? RedirectUri);

    /// <summary>
    /// The spec's PathPrefix matches whole path elements: <c>/foo</c> matches <c>/foo</c>, <c>/foo/</c> and
    /// <c>/foo/bar</c>, never <c>/foobar</c>. It becomes two proxy matches, exact <c>/foo</c> and prefix <c>/foo/</c>,
    /// each with the path modifier that gives the spec's result for it (the table of HTTPPathModifier: the prefix
    /// <c>/foo</c> replaced by <c>/xyz</c> in <c>/foo/bar</c> gives <c>/xyz/bar</c>, and by <c>/</c> in <c>/foo</c> gives <c>/</c>).
    /// </summary>
    private static IEnumerable<PathHalf> PathHalves(HttpPathMatch? path, RuleAction action)
    {
        var type = path?.Type ?? "PathPrefix";
        var value = path?.Value ?? "/";
        if (type == "Exact")
        {
            yield return new PathHalf(new StringMatchConfig(StringMatchKind.Exact, value), "", Whole(action.RewritePath, value), RedirectWhole(action.RedirectPath, value));
            yield break;
        }

        if (type == "RegularExpression")
        {
            // A prefix cannot be replaced in a path matched by a pattern; the full-path modifiers still apply.
            yield return new PathHalf(new StringMatchConfig(StringMatchKind.Regex, value), "", action.RewritePath?.ReplaceFullPath, Full(action.RedirectPath));
            yield break;
        }

        var prefix = value.TrimEnd('/');
        if (prefix.Length > 0)
        {
            yield return new PathHalf(new StringMatchConfig(StringMatchKind.Exact, prefix), "/exact", Whole(action.RewritePath, prefix), RedirectWhole(action.RedirectPath, prefix));
        }

        var under = prefix + "/";
        if (action.RewritePath is { Type: "ReplaceFullPath" })
        {
            // The proxy replaces the whole path of a regex match, so the prefix half is written as one.
            yield return new PathHalf(new StringMatchConfig(StringMatchKind.Regex, Regex.Escape(under) + ".*"), "", action.RewritePath.ReplaceFullPath, Full(action.RedirectPath));
            yield break;
        }

        var replacement = action.RewritePath is { Type: "ReplacePrefixMatch", ReplacePrefixMatch: { } p } ? p.TrimEnd('/') + "/" : null;
        var redirect = action.RedirectPath switch
        {
            { Type: "ReplacePrefixMatch", ReplacePrefixMatch: { } rp } => ((string?)null, (string?)(rp.TrimEnd('/') + "/")),
            { Type: "ReplaceFullPath", ReplaceFullPath: { } full } => (full, null),
            _ => ((string?, string?)?)null,
        };
        yield return new PathHalf(new StringMatchConfig(StringMatchKind.Prefix, under), "", replacement, redirect);
    }

    /// <summary>The new path of a request whose whole path is <paramref name="matched"/> (an exact match).</summary>
    private static string? Whole(HttpPathModifier? modifier, string matched) => modifier switch
    {
        { Type: "ReplaceFullPath", ReplaceFullPath: { } full } => full,
        { Type: "ReplacePrefixMatch", ReplacePrefixMatch: { } p } => p.Length == 0 ? "/" : p,
        _ => null,
    };

    private static (string? Full, string? Prefix)? RedirectWhole(HttpPathModifier? modifier, string matched) =>
        Whole(modifier, matched) is { } path ? (path, null) : null;

    private static (string? Full, string? Prefix)? Full(HttpPathModifier? modifier) =>
        modifier is { Type: "ReplaceFullPath", ReplaceFullPath: { } full } ? (full, null) : null;

    private static (int Rank, int Length) PathRank(HttpPathMatch? path)
    {
        var type = path?.Type ?? "PathPrefix";
        var value = path?.Value ?? "/";
        return type switch
        {
            "Exact" => (RoutePrecedence.Exact, value.Length),
            "RegularExpression" => (RoutePrecedence.Regex, value.Length),
            _ => (RoutePrecedence.Prefix, value.TrimEnd('/').Length),
        };
    }

    /// <summary>Header and query parameter matches; header names are case-insensitive, query parameter names are not.</summary>
    public static Dictionary<string, StringMatchConfig>? Named(IReadOnlyList<HttpHeaderMatch> matches, bool lowerNames)
    {
        if (matches.Count == 0)
        {
            return null;
        }

        var map = new Dictionary<string, StringMatchConfig>(StringComparer.Ordinal);
        foreach (var m in matches)
        {
            var key = lowerNames ? m.Name.ToLowerInvariant() : m.Name;
            // The spec: with several matches of one name, the first one counts.
            map.TryAdd(key, new StringMatchConfig(m.Type == "RegularExpression" ? StringMatchKind.Regex : StringMatchKind.Exact, m.Value));
        }

        return map;
    }
}
