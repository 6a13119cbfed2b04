using Trellis.Api;
using Trellis.Api.GatewayApi;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>
/// What a rule does with a request it matches, before its matches are known: the proxy route without name and
/// matches, plus the path modifier of a redirect or rewrite, which depends on the match it is applied to.
/// </summary>
internal sealed record RuleAction(RouteConfig Route, HttpPathModifier? RedirectPath, HttpPathModifier? RewritePath);

/// <summary>
/// The filters, backends, timeouts and retry of an HTTPRoute or GRPCRoute rule, compiled into the proxy's route
/// contract (the same <see cref="RouteConfig"/> a VirtualService becomes).
/// </summary>
internal static class RuleActions
{
    /// <summary>
    /// A rule whose backends are all unresolvable (or absent, or all of weight 0) is answered 500, as the spec says,
    /// with a direct response. When only some are, their share goes to an empty cluster (503 from the proxy): the
    /// route contract has no per-destination direct response.
    /// </summary>
    public static RuleAction Build(
        RouteIdentity route,
        IReadOnlyList<HttpRouteFilter> filters,
        IReadOnlyList<HttpBackendRef> backendRefs,
        HttpRouteTimeouts? timeouts,
        HttpRouteRetry? retry,
        int listenerPort,
        ClusterSet clusters,
        GatewayApiIndex index)
    {
        HeaderOperationsConfig? request = null, response = null;
        HttpRequestRedirectFilter? redirect = null;
        HttpUrlRewriteFilter? rewrite = null;
        var mirrors = new List<MirrorConfig>();
        CorsConfig? cors = null;
        foreach (var filter in filters)
        {
            switch (filter.Type)
            {
                case "RequestHeaderModifier":
                    request = Merge(request, Operations(filter.RequestHeaderModifier));
                    break;
                case "ResponseHeaderModifier":
                    response = Merge(response, Operations(filter.ResponseHeaderModifier));
                    break;
                case "RequestRedirect":
                    redirect = filter.RequestRedirect;
                    break;
                case "URLRewrite":
                    rewrite = filter.UrlRewrite;
                    break;
                case "RequestMirror" when filter.RequestMirror is { } mirror:
                    var target = BackendRefs.Resolve(route, mirror.BackendRef.Group, mirror.BackendRef.Kind, mirror.BackendRef.Name, mirror.BackendRef.Namespace, mirror.BackendRef.Port, index);
                    if (target.Valid)
                    {
                        mirrors.Add(new MirrorConfig(clusters.Outbound(target.Fqdn, target.Port, null), MirrorPercent(mirror)));
                    }

                    break;
                case "CORS" when filter.Cors is { } c:
                    cors = Cors(c);
                    break;
            }
        }

        var weighted = new List<WeightedClusterConfig>();
        var resolvable = 0;
        if (redirect is null)
        {
            foreach (var backend in backendRefs)
            {
                if ((backend.Weight ?? 1) == 0)
                {
                    continue;
                }

                var resolved = BackendRefs.Resolve(route, backend.Group, backend.Kind, backend.Name, backend.Namespace, backend.Port, index);
                resolvable += resolved.Valid ? 1 : 0;
                var cluster = resolved.Valid
                    ? clusters.Outbound(resolved.Fqdn, resolved.Port, null)
                    : clusters.Unreachable($"invalid|{resolved.Reason}|{resolved.Namespace}/{resolved.Name}");
                var (backendRequest, backendResponse) = BackendFilters(backend.Filters);
                weighted.Add(new WeightedClusterConfig(cluster, backend.Weight ?? 1, backendRequest, backendResponse));
            }

        }

        var internalError = redirect is null && resolvable == 0 ? new DirectResponseConfig(500) : null;
        if (internalError is not null)
        {
            weighted.Clear();
        }

        var (timeout, perTry) = Timeouts(timeouts);
        var retryConfig = Retry(retry, perTry);
        if (retryConfig is null && timeout is null && perTry is not null)
        {
            timeout = perTry; // without retries, one backend request is the whole exchange
        }

        var config = new RouteConfig(
            Name: "",
            Matches: [],
            Clusters: weighted,
            Redirect: redirect is null ? null : Redirect(redirect, listenerPort),
            Rewrite: rewrite?.Hostname is { } host ? new RewriteConfig(Authority: host) : null,
            RequestHeaders: request,
            ResponseHeaders: response,
            Timeout: timeout,
            Retry: retryConfig,
            Mirrors: mirrors.Count > 0 ? mirrors : null,
            Cors: cors,
            DirectResponse: internalError);
        return new RuleAction(config, redirect?.Path, rewrite?.Path);
    }

    /// <summary>
    /// The spec's port rule: an explicit port; else the scheme's well-known port when the scheme changes; else the
    /// listener's port. The proxy leaves a well-known port out of the Location.
    /// </summary>
    private static RedirectConfig Redirect(HttpRequestRedirectFilter redirect, int listenerPort)
    {
        var port = redirect.Port ?? redirect.Scheme switch
        {
            "http" => 80,
            "https" => 443,
            _ => listenerPort,
        };
        return new RedirectConfig(Authority: redirect.Hostname, Scheme: redirect.Scheme, Port: port, StatusCode: redirect.StatusCode ?? 302);
    }

    private static (TimeSpan? Request, TimeSpan? Backend) Timeouts(HttpRouteTimeouts? timeouts)
    {
        // "0s" disables a timeout, as in the spec.
        static TimeSpan? Parse(string? s) => s is not null && Durations.TryParse(s, out var t) && t > TimeSpan.Zero ? t : null;
        return (Parse(timeouts?.Request), Parse(timeouts?.BackendRequest));
    }

    /// <summary>
    /// HTTPRoute <c>retry</c>: the listed codes, and always connection errors (the spec: implementations MUST retry
    /// them when a retry is configured). Without <c>retry</c>, a backendRequest timeout still bounds each try.
    /// </summary>
    private static RetryConfig? Retry(HttpRouteRetry? retry, TimeSpan? perTry)
    {
        if (retry is null)
        {
            return null;
        }

        var backoff = retry.Backoff is { } b && Durations.TryParse(b, out var t) ? t : (TimeSpan?)null;
        var on = new List<string> { RetryConditions.ConnectFailure, RetryConditions.Reset };
        if (retry.Codes.Count > 0)
        {
            on.Add(RetryConditions.RetriableStatusCodes);
        }

        return new RetryConfig(retry.Attempts ?? 1, perTry, on, retry.Codes.Count > 0 ? retry.Codes : null, RetryOnExplicit: true, BackoffBase: backoff);
    }

    private static double MirrorPercent(HttpRequestMirrorFilter mirror) =>
        mirror.Percent is { } p ? p
        : mirror.Fraction is { } f ? 100.0 * f.Numerator / (f.Denominator ?? 100)
        : 100;

    /// <summary>Per-backend filters: only header modifiers change anything per backend.</summary>
    private static (HeaderOperationsConfig? Request, HeaderOperationsConfig? Response) BackendFilters(IReadOnlyList<HttpRouteFilter> filters)
    {
        HeaderOperationsConfig? request = null, response = null;
        foreach (var f in filters)
        {
            if (f.Type == "RequestHeaderModifier")
            {
                request = Merge(request, Operations(f.RequestHeaderModifier));
            }
            else if (f.Type == "ResponseHeaderModifier")
            {
                response = Merge(response, Operations(f.ResponseHeaderModifier));
            }
        }

        return (request, response);
    }

    private static HeaderOperationsConfig? Operations(HttpHeaderFilter? filter)
    {
        if (filter is null)
        {
            return null;
        }

        // Header names are case-insensitive; a later entry for the same name replaces an earlier one.
        static Dictionary<string, string>? Map(IReadOnlyList<HttpHeader> headers)
        {
            if (headers.Count == 0)
            {
                return null;
            }

            var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var h in headers)
            {
                map[h.Name] = h.Value;
            }

            return map;
        }

        return new HeaderOperationsConfig(Map(filter.Set), Map(filter.Add), filter.Remove.Count > 0 ? filter.Remove : null);
    }

    private static HeaderOperationsConfig? Merge(HeaderOperationsConfig? a, HeaderOperationsConfig? b)
    {
        if (a is null || b is null)
        {
            return a ?? b;
        }

        static Dictionary<string, string>? Join(IReadOnlyDictionary<string, string>? x, IReadOnlyDictionary<string, string>? y)
        {
            if (x is null || y is null)
            {
                return x is null && y is null ? null : new Dictionary<string, string>(x ?? y!, StringComparer.OrdinalIgnoreCase);
            }

            var map = new Dictionary<string, string>(x, StringComparer.OrdinalIgnoreCase);
            foreach (var (k, v) in y)
            {
                map[k] = v;
            }

            return map;
        }

        return new HeaderOperationsConfig(Join(a.Set, b.Set), Join(a.Add, b.Add), (a.Remove ?? []).Concat(b.Remove ?? []).ToList() is { Count: > 0 } r ? r : null);
    }

    /// <summary>
    /// Gateway API origins are <c>scheme://host[:port]</c> where the host may start with <c>*</c>, or <c>*</c> alone;
    /// they become exact or full-match regex origin matches.
    /// </summary>
    private static CorsConfig Cors(HttpCorsFilter c)
    {
        var origins = c.AllowOrigins.Select(o => o == "*"
            ? new StringMatchConfig(StringMatchKind.Regex, ".*")
            : o.Contains('*', StringComparison.Ordinal)
                ? new StringMatchConfig(StringMatchKind.Regex, System.Text.RegularExpressions.Regex.Escape(o).Replace("\\*", "[^/]*", StringComparison.Ordinal))
                : new StringMatchConfig(StringMatchKind.Exact, o)).ToList();
        return new CorsConfig(
            origins,
            c.AllowMethods.Count > 0 ? c.AllowMethods : null,
            c.AllowHeaders.Count > 0 ? c.AllowHeaders : null,
            c.ExposeHeaders.Count > 0 ? c.ExposeHeaders : null,
            c.MaxAge is { } age ? TimeSpan.FromSeconds(age) : null,
            c.AllowCredentials);
    }
}
