using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Trellis.Api.Explain;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Push;

namespace Trellis.ControlPlane.ApiServer;

/// <summary>
/// <c>GET /debug/clusters?host=FQDN</c>: every connected proxy's clusters for that host, with their endpoints and outlier
/// state as each proxy sees them now (<c>ProxyAdmin</c>'s <c>/clusters</c>), for <c>trellis describe</c>. Outlier
/// state is per proxy (each one ejects on what it saw), so the answer is one entry per proxy; a proxy that does not
/// answer is listed with its error rather than left out.
/// </summary>
internal static class ClustersEndpoint
{
    public static void Map(IEndpointRouteBuilder app) => app.MapGet("/debug/clusters", ClustersAsync);

    private static async Task ClustersAsync(HttpContext c, PushServer push, IHttpClientFactory clients)
    {
        var host = c.Request.Query["host"].FirstOrDefault();
        var query = string.IsNullOrEmpty(host) ? string.Empty : "?host=" + Uri.EscapeDataString(host);
        var client = clients.CreateClient("agent");
        var answers = await Task.WhenAll(push.Connections
            .Where(p => p.Hello.AdminUrl is not null)
            .OrderBy(p => p.Hello.Name, StringComparer.Ordinal)
            .Select(p => AskAsync(client, p.Hello.Name, p.Hello.AdminUrl!.TrimEnd('/') + "/clusters" + query, c.RequestAborted)));
        IReadOnlyList<ProxyClusters> relevant = answers.Where(a => a.Error is not null || a.Clusters.Count > 0).ToList();
        await Results.Json(relevant, WireJsonContext.Default.IReadOnlyListProxyClusters).ExecuteAsync(c);
    }

    private static async Task<ProxyClusters> AskAsync(HttpClient client, string proxy, string url, CancellationToken ct)
    {
        try
        {
            using var response = await client.GetAsync(url, ct);
            if (!response.IsSuccessStatusCode)
            {
                return new ProxyClusters(proxy, [], $"answered {(int)response.StatusCode}");
            }

            var clusters = await JsonSerializer.DeserializeAsync(await response.Content.ReadAsStreamAsync(ct), WireJsonContext.Default.IReadOnlyListClusterStatus, ct);
            return new ProxyClusters(proxy, clusters ?? []);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException)
        {
            return new ProxyClusters(proxy, [], e.Message);
        }
    }
}
