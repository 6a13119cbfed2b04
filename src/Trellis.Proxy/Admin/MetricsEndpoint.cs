using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Admin;

/// <summary>
/// <c>GET /stats/prometheus</c>: the proxy's Istio standard metrics in the Prometheus text format, where Envoy serves
/// them (its merged metrics port 15090 answers the same path). A RequestDelegate, no parameter binding: the Native AOT
/// proxy serves it too.
/// </summary>
public static class MetricsEndpoint
{
    public const string Path = "/stats/prometheus";

    public static void Map(IEndpointRouteBuilder app, ProxyServer proxy) =>
        app.MapGet(Path, c =>
        {
            c.Response.ContentType = PrometheusWriter.ContentType;
            return c.Response.WriteAsync(proxy.PrometheusMetrics(), c.RequestAborted);
        });
}
