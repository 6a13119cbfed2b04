using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Leadership;
using Trellis.ControlPlane.Push;
using Trellis.ControlPlane.Registry;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.ApiServer;

/// <summary>The verbs that are not plain resource CRUD: apply/delete/analyze of files, the registry, pods, endpoints, logs.</summary>
internal static class MeshEndpoints
{
    /// <summary>Seconds between an agent's reports that keep its node registered (a third of the node TTL).</summary>
    public const string HeartbeatHeader = "x-trellis-heartbeat-seconds";

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapPost("/apply", async (HttpContext c, ApplyService apply) =>
            ApiResults.Apply(await apply.ApplyAsync(await BodyAsync(c), Source(c), c.Request.Query.ContainsKey("dryRun"), PutMode.Upsert, c.RequestAborted)));
        app.MapPost("/delete", async (HttpContext c, ApplyService apply) =>
            ApiResults.Apply(await apply.DeleteAsync(await BodyAsync(c), Source(c), c.RequestAborted)));
        app.MapPost("/analyze", async (HttpContext c, ApplyService apply) =>
            ApiResults.Json(new JsonObject { ["diagnostics"] = ApiResults.Diagnostics(apply.AnalyzeOnly(await BodyAsync(c), Source(c))) }));

        app.MapGet("/debug/leader", (ILeadership leadership) => Results.Json(new { identity = leadership.Identity, isLeader = leadership.IsLeader, leader = leadership.Leader?.Identity, leaderApi = leadership.Leader?.ApiUrl }));
        app.MapPut("/registry/v1/nodes/{node}", async (HttpContext c, string node, INodeReports reports) =>
        {
            if (Auth.PushIdentity.RegistryRefusal(Auth.ApiPrincipal.Of(c), node) is { } refused)
            {
                return ApiResults.Failure(403, "Forbidden", refused);
            }

            NodeStatus? status;
            try
            {
                status = await JsonSerializer.DeserializeAsync<NodeStatus>(c.Request.Body, WireJson.Options, c.RequestAborted);
            }
            catch (JsonException e)
            {
                return ApiResults.Failure(400, "BadRequest", "invalid node status: " + e.Message);
            }

            if (status is null || status.Node != node)
            {
                return ApiResults.Failure(400, "BadRequest", "the body's node must match the path");
            }

            try
            {
                await reports.ReportAsync(status, c.RequestAborted);
            }
            catch (Grpc.Core.RpcException e)
            {
                return ApiResults.Failure(503, "ServiceUnavailable", "the registry's store did not answer: " + e.Status.Detail);
            }

            // The agent's heartbeat must beat the node's TTL, which only the control plane knows.
            c.Response.Headers[HeartbeatHeader] = Math.Max(1, (int)(reports.NodeTtl.TotalSeconds / 3)).ToString(System.Globalization.CultureInfo.InvariantCulture);

            return Results.NoContent();
        });

        app.MapGet("/api/v1/nodes", (ServiceRegistry r) => ApiResults.Json(new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "List",
            ["items"] = new JsonArray(r.NodeStatuses.Select(n => (JsonNode)NodeView.Render(n)).ToArray()),
        }));
        app.MapGet("/api/v1/pods", (ServiceRegistry r) => PodList(r.Instances));
        app.MapGet("/api/v1/namespaces/{ns}/pods", (string ns, ServiceRegistry r) => PodList(r.Instances.Where(i => i.Namespace == ns)));
        app.MapGet("/api/v1/endpoints", (IResourceStore s, ServiceRegistry r) => ApiResults.Json(EndpointsView.Render(s.Snapshot, r.Instances, null)));
        app.MapGet("/api/v1/events", (Events.EventLog events) => EventList(events.List(null)));
        app.MapGet("/api/v1/namespaces/{ns}/events", (string ns, Events.EventLog events) => EventList(events.List(ns)));
        app.MapGet("/api/v1/namespaces/{ns}/endpoints", (string ns, IResourceStore s, ServiceRegistry r) => ApiResults.Json(EndpointsView.Render(s.Snapshot, r.Instances, ns)));
        app.MapGet("/api/v1/namespaces/{ns}/pods/{name}/log", LogsAsync);
        ExplainEndpoint.Map(app);
        ClustersEndpoint.Map(app);
        LiveStatsEndpoints.Map(app);
        ProxyStreamEndpoints.Map(app);
        app.MapGet("/debug/proxies", (PushServer push) => Results.Json(push.Connections.Select(c => c.Describe())));
        app.MapGet("/debug/snapshot/{**proxy}", (string proxy, MeshStateSource states, SnapshotCache cache, PushServer push) =>
            push.Connections.FirstOrDefault(c => c.Hello.Name == proxy) is { } conn
                ? Results.Json(cache.Get(conn.Hello, states.Current), WireJson.Options)
                : ApiResults.Failure(404, "NotFound", $"no connected proxy named {proxy}"));
    }

    private static IResult EventList(IEnumerable<JsonObject> events) => ApiResults.Json(new JsonObject
    {
        ["apiVersion"] = "v1",
        ["kind"] = "List",
        ["items"] = new JsonArray(events.Select(e => (JsonNode)e).ToArray()),
    });

    private static async Task LogsAsync(HttpContext c, string ns, string name, ServiceRegistry registry, IHttpClientFactory clients)
    {
        var instance = registry.Instances.FirstOrDefault(i => i.Namespace == ns && i.Id == name);
        var agent = instance is null ? null : registry.AgentUrlOf(instance.Node);
        if (instance is null || agent is null)
        {
            c.Response.StatusCode = 404;
            await c.Response.WriteAsync($"pod \"{name}\" not found in namespace {ns}\n");
            return;
        }

        // The log file lives on the agent's host: stream it through from the agent's API.
        var follow = c.Request.Query.ContainsKey("follow") ? "?follow=true" : "";
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{agent.TrimEnd('/')}/logs/{Uri.EscapeDataString(name)}{follow}");
        try
        {
            using var response = await clients.CreateClient("agent").SendAsync(request, HttpCompletionOption.ResponseHeadersRead, c.RequestAborted);
            c.Response.StatusCode = (int)response.StatusCode;
            c.Response.ContentType = "text/plain; charset=utf-8";
            await using var body = await response.Content.ReadAsStreamAsync(c.RequestAborted);
            var buffer = new byte[16 * 1024];
            int n;
            while ((n = await body.ReadAsync(buffer, c.RequestAborted)) > 0)
            {
                await c.Response.Body.WriteAsync(buffer.AsMemory(0, n), c.RequestAborted);
                await c.Response.Body.FlushAsync(c.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (HttpRequestException e)
        {
            if (!c.Response.HasStarted)
            {
                c.Response.StatusCode = 502;
                await c.Response.WriteAsync($"the agent of node {instance.Node} did not answer: {e.Message}\n");
            }
        }
    }

    private static IResult PodList(IEnumerable<WorkloadInstance> instances) => ApiResults.Json(new JsonObject
    {
        ["apiVersion"] = "v1",
        ["kind"] = "List",
        ["items"] = new JsonArray(instances.Select(i => (JsonNode)PodView.Render(i)).ToArray()),
    });

    private static async Task<string> BodyAsync(HttpContext c) =>
        await new StreamReader(c.Request.Body, Encoding.UTF8).ReadToEndAsync(c.RequestAborted);

    private static string Source(HttpContext c) => c.Request.Query["source"].FirstOrDefault() ?? "<input>";
}
