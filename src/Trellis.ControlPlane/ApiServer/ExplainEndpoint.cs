using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Push;
using Trellis.ControlPlane.Registry;

namespace Trellis.ControlPlane.ApiServer;

/// <summary>
/// <c>GET /debug/explain?from=NAME&amp;method=&amp;url=&amp;header=</c>: route explain for the CLI, which talks to the control plane
/// only. <c>from</c> names a gateway proxy (<c>gateway/ingress</c> or <c>ingress</c>) or a workload (a pod, or a
/// Deployment whose first ready pod is taken); the control plane finds the proxy that serves it and asks the proxy's
/// admin endpoint (<c>ProxyAdmin</c>), which answers from the snapshot it is serving, endpoint state included.
/// </summary>
internal static class ExplainEndpoint
{
    public static void Map(IEndpointRouteBuilder app) => app.MapGet("/debug/explain", ExplainAsync);

    private static async Task ExplainAsync(HttpContext c, PushServer push, ServiceRegistry registry, IHttpClientFactory clients)
    {
        var query = c.Request.Query;
        var from = query["from"].FirstOrDefault();
        if (string.IsNullOrEmpty(from) || string.IsNullOrEmpty(query["url"].FirstOrDefault()))
        {
            await Fail(c, 400, "BadRequest", "from and url are required");
            return;
        }

        var (connection, listener, problem) = Resolve(from, push.Connections, registry.Instances);
        if (connection is null)
        {
            await Fail(c, 404, "NotFound", problem!);
            return;
        }

        if (connection.Hello.AdminUrl is not { } admin)
        {
            await Fail(c, 503, "ServiceUnavailable", $"proxy {connection.Hello.Name} has no admin endpoint to explain routes with");
            return;
        }

        var target = $"{admin.TrimEnd('/')}/explain?method={Uri.EscapeDataString(query["method"].FirstOrDefault() ?? "GET")}&url={Uri.EscapeDataString(query["url"].First()!)}";
        if (listener is not null)
        {
            target += "&listener=" + Uri.EscapeDataString(listener);
        }

        foreach (var header in query["header"])
        {
            target += "&header=" + Uri.EscapeDataString(header ?? "");
        }

        try
        {
            using var response = await clients.CreateClient("agent").GetAsync(target, c.RequestAborted);
            c.Response.StatusCode = (int)response.StatusCode;
            c.Response.ContentType = "application/json";
            await c.Response.WriteAsync(await response.Content.ReadAsStringAsync(c.RequestAborted), c.RequestAborted);
        }
        catch (HttpRequestException e)
        {
            await Fail(c, 502, "BadGateway", $"proxy {connection.Hello.Name} did not answer at {admin}: {e.Message}");
        }
    }

    /// <summary>The proxy serving <paramref name="from"/>, and for a workload the outbound listener of its instance.</summary>
    internal static (ProxyConnection? Connection, string? Listener, string? Problem) Resolve(string from, IEnumerable<ProxyConnection> connections, IReadOnlyList<WorkloadInstance> instances)
    {
        var all = connections.ToList();
        var gateway = all.FirstOrDefault(p => p.Hello.Role == ProxyRole.Gateway && (p.Hello.Name == from || p.Hello.Name == "gateway/" + from));
        if (gateway is not null)
        {
            return (gateway, null, null);
        }

        var instance = instances.FirstOrDefault(i => i.Id == from)
            ?? instances.Where(i => i.Workload == from).OrderByDescending(i => i.Ready).ThenBy(i => i.Id, StringComparer.Ordinal).FirstOrDefault();
        if (instance is null)
        {
            return (null, null, $"no gateway proxy, pod or deployment named \"{from}\"");
        }

        var node = all.FirstOrDefault(p => p.Hello.Role == ProxyRole.Node && p.Hello.Node == instance.Node);
        return node is null
            ? (null, null, $"the proxy of node {instance.Node} (where {instance.Id} runs) is not connected")
            : (node, $"{instance.Id}/{WorkloadInstance.OutboundPort}", null);
    }

    private static Task Fail(HttpContext c, int status, string reason, string message) =>
        ApiResults.Failure(status, reason, message).ExecuteAsync(c);
}
