using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Trellis.Api.Explain;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Admin;

/// <summary>
/// A proxy's admin endpoints, as Envoy's admin interface: mounted on a process's existing HTTP server (the agent's) or
/// on an <see cref="AdminServer"/> of their own (a gateway). Loopback only. <c>GET /explain</c> (route explain), <c>GET /clusters</c>,
/// <c>GET /stats/prometheus</c> (<see cref="MetricsEndpoint"/>), <c>GET /live/...</c> (<see cref="LiveEndpoints"/>).
/// </summary>
public static class ProxyAdmin
{
    /// <summary>
    /// <c>GET /explain?method=GET&amp;url=http://reviews:9080/x&amp;header=end-user:%20jason&amp;listener=NAME</c>: how the proxy
    /// would route that request now (<see cref="RouteExplanation"/>, camelCase JSON). <c>listener</c> may be left out on a
    /// gateway (the listener on the URL's port); <c>header</c> may repeat.
    /// </summary>
    public static void Map(IEndpointRouteBuilder app, ProxyServer proxy)
    {
        MetricsEndpoint.Map(app, proxy);
        LiveEndpoints.Map(app, proxy);
        // A RequestDelegate and the generated JSON, not a lambda with parameter binding and reflection JSON:
        // the Native AOT proxy (trellis-proxy) serves this too, and its build refuses reflection.
        app.MapGet("/explain", c => Explain(c, proxy).ExecuteAsync(c));

        // GET /clusters?host=reviews.default.svc.cluster.local: the clusters of that host (all without it), endpoints and
        // their outlier state now (Envoy's /clusters role; trellis describe shows it).
        app.MapGet("/clusters", c => Results.Json(proxy.Clusters(c.Request.Query["host"].FirstOrDefault()), WireJsonContext.Default.IReadOnlyListClusterStatus).ExecuteAsync(c));
    }

    private static IResult Explain(HttpContext c, ProxyServer proxy)
    {
        var query = c.Request.Query;
        if (query["url"].FirstOrDefault() is not { Length: > 0 } url)
        {
            return Results.Json(new RouteExplanation("error", Error: "url is required"), WireJsonContext.Default.RouteExplanation, statusCode: 400);
        }

        var headers = new List<KeyValuePair<string, string>>();
        foreach (var header in query["header"])
        {
            var colon = header?.IndexOf(':', StringComparison.Ordinal) ?? -1;
            if (colon <= 0)
            {
                return Results.Json(new RouteExplanation("error", Error: $"header \"{header}\" is not 'name: value'"), WireJsonContext.Default.RouteExplanation, statusCode: 400);
            }

            headers.Add(new(header![..colon].Trim(), header[(colon + 1)..].Trim()));
        }

        var request = new ExplainRequest(query["listener"].FirstOrDefault(), query["method"].FirstOrDefault() ?? "GET", url, headers);
        var explanation = proxy.Explain(request);
        return Results.Json(explanation, WireJsonContext.Default.RouteExplanation, statusCode: explanation.Outcome == "error" ? 400 : 200);
    }
}
