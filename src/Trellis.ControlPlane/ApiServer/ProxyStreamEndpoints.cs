using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Push;
using Trellis.ControlPlane.Registry;

namespace Trellis.ControlPlane.ApiServer;

/// <summary>
/// <c>GET /debug/tap?workload=W&amp;namespace=N&amp;path=P&amp;method=M</c> (<c>trellis tap</c>, <c>trellis top</c>): the
/// requests to and from a workload as the proxies that serve it see them finish, one JSON line each, merged from every
/// such proxy while the client stays (as Linkerd's tap goes through its control plane to the proxies). <c>GET
/// /debug/proxy-logs?workload=W&amp;namespace=N&amp;follow=true</c> (<c>trellis logs --proxy</c>): the workload's access-log
/// lines. W is a Deployment (the node proxies of the nodes running it) or a gateway proxy (<c>ingress</c> or
/// <c>gateway/ingress</c>).
/// </summary>
internal static class ProxyStreamEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/debug/tap", TapAsync);
        app.MapGet("/debug/proxy-logs", LogsAsync);
    }

    private static async Task TapAsync(HttpContext c, PushServer push, ServiceRegistry registry, IHttpClientFactory clients)
    {
        var query = c.Request.Query;
        var targets = await TargetsAsync(c, push, registry);
        if (targets is null)
        {
            return;
        }

        var client = clients.CreateClient("agent");
        var ct = c.RequestAborted;
        var opened = await Task.WhenAll(targets.Select(t => OpenAsync(client, t.Admin + "/live/tap?" + Query(t, ("path", query["path"].FirstOrDefault()), ("method", query["method"].FirstOrDefault())), ct)));
        try
        {
            var streams = opened.Where(o => o.Response is { IsSuccessStatusCode: true }).Select(o => o.Response!).ToList();
            if (streams.Count == 0)
            {
                await Fail(c, 502, "BadGateway", "no proxy of the workload accepted the tap: " + string.Join("; ", opened.Select(o => o.Error ?? $"answered {(int)o.Response!.StatusCode}")));
                return;
            }

            // Headers now: every proxy's tap is attached, so the client knows requests from here on are seen.
            c.Response.ContentType = "application/x-ndjson";
            await c.Response.StartAsync(ct);
            await c.Response.Body.FlushAsync(ct);
            await CopyLinesAsync(c, streams, ct);
        }
        finally
        {
            foreach (var o in opened)
            {
                o.Response?.Dispose();
            }
        }
    }

    private static async Task LogsAsync(HttpContext c, PushServer push, ServiceRegistry registry, IHttpClientFactory clients)
    {
        var targets = await TargetsAsync(c, push, registry);
        if (targets is null)
        {
            return;
        }

        var follow = c.Request.Query["follow"].FirstOrDefault() is "true" or "1";
        var client = clients.CreateClient("agent");
        var ct = c.RequestAborted;
        var opened = await Task.WhenAll(targets.Select(t => OpenAsync(client, t.Admin + "/live/logs?" + Query(t, ("follow", follow ? "true" : null)), ct)));
        try
        {
            var streams = opened.Where(o => o.Response is { IsSuccessStatusCode: true }).Select(o => o.Response!).ToList();
            if (streams.Count == 0)
            {
                var first = opened[0];
                var message = first.Response is { } r ? await r.Content.ReadAsStringAsync(ct) : first.Error!;
                await Fail(c, first.Response?.StatusCode == System.Net.HttpStatusCode.NotFound ? 404 : 502, "NotFound", message);
                return;
            }

            c.Response.ContentType = "text/plain; charset=utf-8";
            await c.Response.StartAsync(ct);
            await CopyLinesAsync(c, streams, ct);
        }
        finally
        {
            foreach (var o in opened)
            {
                o.Response?.Dispose();
            }
        }
    }

    /// <summary>A proxy to ask, and the workload and namespace as that proxy names them.</summary>
    private sealed record Target(string Admin, string Workload, string? Namespace);

    /// <summary>The proxies serving the workload of the request; null once a failure has been answered.</summary>
    private static async Task<List<Target>?> TargetsAsync(HttpContext c, PushServer push, ServiceRegistry registry)
    {
        var query = c.Request.Query;
        if (query["workload"].FirstOrDefault() is not { Length: > 0 } workload)
        {
            await Fail(c, 400, "BadRequest", "workload is required");
            return null;
        }

        var ns = query["namespace"].FirstOrDefault() is { Length: > 0 } n ? n : "default";
        var connections = push.Connections;
        var gateway = connections.FirstOrDefault(p => p.Hello.Role == ProxyRole.Gateway && (p.Hello.Name == workload || p.Hello.Name == "gateway/" + workload));
        List<Target> targets;
        if (gateway is not null)
        {
            // A gateway speaks for the workload named after it, outside the mesh's namespaces (Compiler/TelemetryMetadata).
            var name = gateway.Hello.Name[(gateway.Hello.Name.IndexOf('/', StringComparison.Ordinal) + 1)..];
            targets = gateway.Hello.AdminUrl is { } admin ? [new Target(admin.TrimEnd('/'), name, null)] : [];
        }
        else
        {
            var nodes = registry.Instances.Where(i => i.Workload == workload && i.Namespace == ns).Select(i => i.Node).Distinct().ToList();
            if (nodes.Count == 0)
            {
                await Fail(c, 404, "NotFound", $"no deployment named \"{workload}\" runs in namespace {ns}, and no gateway proxy has that name");
                return null;
            }

            targets = connections
                .Where(p => p.Hello.Role == ProxyRole.Node && p.Hello.Node is { } node && nodes.Contains(node) && p.Hello.AdminUrl is not null)
                .Select(p => new Target(p.Hello.AdminUrl!.TrimEnd('/'), workload, ns))
                .ToList();
        }

        if (targets.Count == 0)
        {
            await Fail(c, 503, "ServiceUnavailable", $"no connected proxy with an admin endpoint serves {workload}");
            return null;
        }

        return targets;
    }

    private static string Query(Target target, params (string Name, string? Value)[] more)
    {
        var query = new StringBuilder("workload=").Append(Uri.EscapeDataString(target.Workload));
        if (target.Namespace is not null)
        {
            query.Append("&namespace=").Append(Uri.EscapeDataString(target.Namespace));
        }

        foreach (var (name, value) in more)
        {
            if (!string.IsNullOrEmpty(value))
            {
                query.Append('&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
            }
        }

        return query.ToString();
    }

    private static async Task<(HttpResponseMessage? Response, string? Error)> OpenAsync(HttpClient client, string url, CancellationToken ct)
    {
        try
        {
            return (await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, url), HttpCompletionOption.ResponseHeadersRead, ct), null);
        }
        catch (HttpRequestException e)
        {
            return (null, e.Message);
        }
    }

    /// <summary>Every stream's lines to the response as they come, whole lines only, until all end or the client leaves.</summary>
    private static async Task CopyLinesAsync(HttpContext c, List<HttpResponseMessage> streams, CancellationToken ct)
    {
        using var gate = new SemaphoreSlim(1, 1);
        try
        {
            await Task.WhenAll(streams.Select(async response =>
            {
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
                while (await reader.ReadLineAsync(ct) is { } line)
                {
                    await gate.WaitAsync(ct);
                    try
                    {
                        await c.Response.WriteAsync(line + "\n", ct);
                        await c.Response.Body.FlushAsync(ct);
                    }
                    finally
                    {
                        gate.Release();
                    }
                }
            }));
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
            // The client left, or a proxy went away: the stream ends.
        }
    }

    private static Task Fail(HttpContext c, int status, string reason, string message) => ApiResults.Failure(status, reason, message).ExecuteAsync(c);
}
