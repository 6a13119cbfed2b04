using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Trellis.Api;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.ApiServer;

/// <summary>
/// Kubernetes-style resource paths: <c>/api/v1/...</c> for the core group and
/// <c>/apis/{group}/{version}/...</c> for the others; list, get, create, replace, merge-patch, delete, watch.
/// </summary>
internal static class ResourceEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/{version}/{plural}", (HttpContext c, string version, string plural) => ListAsync(c, "", version, plural, null));
        app.MapGet("/api/{version}/namespaces/{ns}/{plural}", (HttpContext c, string version, string ns, string plural) => ListAsync(c, "", version, plural, ns));
        app.MapGet("/apis/{group}/{version}/{plural}", (HttpContext c, string group, string version, string plural) => ListAsync(c, group, version, plural, null));
        app.MapGet("/apis/{group}/{version}/namespaces/{ns}/{plural}", (HttpContext c, string group, string version, string ns, string plural) => ListAsync(c, group, version, plural, ns));

        app.MapGet("/api/{version}/namespaces/{ns}/{plural}/{name}", (HttpContext c, string version, string ns, string plural, string name) => Get(c, "", version, plural, ns, name));
        app.MapGet("/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}", (HttpContext c, string group, string version, string ns, string plural, string name) => Get(c, group, version, plural, ns, name));

        app.MapPost("/api/{version}/namespaces/{ns}/{plural}", (HttpContext c, string version, string ns, string plural) => WriteAsync(c, "", version, plural, ns, null, PutMode.CreateOnly));
        app.MapPost("/apis/{group}/{version}/namespaces/{ns}/{plural}", (HttpContext c, string group, string version, string ns, string plural) => WriteAsync(c, group, version, plural, ns, null, PutMode.CreateOnly));
        app.MapPut("/api/{version}/namespaces/{ns}/{plural}/{name}", (HttpContext c, string version, string ns, string plural, string name) => WriteAsync(c, "", version, plural, ns, name, PutMode.ReplaceOnly));
        app.MapPut("/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}", (HttpContext c, string group, string version, string ns, string plural, string name) => WriteAsync(c, group, version, plural, ns, name, PutMode.ReplaceOnly));
        app.MapPatch("/api/{version}/namespaces/{ns}/{plural}/{name}", (HttpContext c, string version, string ns, string plural, string name) => PatchAsync(c, "", version, plural, ns, name));
        app.MapPatch("/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}", (HttpContext c, string group, string version, string ns, string plural, string name) => PatchAsync(c, group, version, plural, ns, name));
        app.MapDelete("/api/{version}/namespaces/{ns}/{plural}/{name}", (HttpContext c, string version, string ns, string plural, string name) => DeleteAsync(c, "", version, plural, ns, name));
        app.MapDelete("/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}", (HttpContext c, string group, string version, string ns, string plural, string name) => DeleteAsync(c, group, version, plural, ns, name));
    }

    private static KindInfo? Kind(string group, string version, string plural) =>
        ResourceKinds.All.FirstOrDefault(k => k.Group == group && k.Plural == plural && k.Versions.Contains(version));

    private static IResult UnknownKind(string group, string version, string plural) =>
        ApiResults.Failure(404, "NotFound", $"the server does not serve {plural} in {(group.Length == 0 ? "" : group + "/")}{version}");

    private static async Task<IResult> ListAsync(HttpContext c, string group, string version, string plural, string? ns)
    {
        if (Kind(group, version, plural) is not { } kind)
        {
            return UnknownKind(group, version, plural);
        }

        var store = c.RequestServices.GetRequiredService<IResourceStore>();
        if (c.Request.Query["watch"] is { Count: > 0 } w && w[0] is "true" or "1")
        {
            await WatchAsync(c, store, kind, ns);
            return Results.Empty;
        }

        var snapshot = store.Snapshot;
        return ApiResults.List(snapshot.List(kind.Group, kind.Kind, ns), snapshot.Revision, Auth.SecretRedaction.Applies(c));
    }

    private static async Task WatchAsync(HttpContext c, IResourceStore store, KindInfo kind, string? ns)
    {
        var from = long.TryParse(c.Request.Query["resourceVersion"], NumberStyles.None, CultureInfo.InvariantCulture, out var rv) ? rv : store.Snapshot.Revision;
        c.Response.ContentType = "application/x-ndjson";
        try
        {
            var events = store.WatchAsync(from, c.RequestAborted);
            await c.Response.StartAsync(c.RequestAborted);
            await c.Response.Body.FlushAsync(c.RequestAborted); // headers now: a watcher must see the stream open before any event
            await foreach (var e in events)
            {
                var r = e.Object.Resource;
                if (r.Group != kind.Group || r.Kind != kind.Kind || (ns is not null && r.Key.Namespace != ns))
                {
                    continue;
                }

                var line = new JsonObject { ["type"] = e.Type.ToString().ToUpperInvariant(), ["object"] = Render(c, r) }.ToJsonString();
                await c.Response.WriteAsync(line + "\n", c.RequestAborted);
                await c.Response.Body.FlushAsync(c.RequestAborted);
            }
        }
        catch (WatchExpiredException e)
        {
            c.Response.StatusCode = 410;
            await c.Response.WriteAsync(e.Message);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static IResult Get(HttpContext c, string group, string version, string plural, string ns, string name)
    {
        if (Kind(group, version, plural) is not { } kind)
        {
            return UnknownKind(group, version, plural);
        }

        var stored = c.RequestServices.GetRequiredService<IResourceStore>().Snapshot.Get(new ResourceKey(kind.Group, kind.Kind, ns, name));
        return stored is null ? ApiResults.Failure(404, "NotFound", $"{plural} \"{name}\" not found in namespace {ns}") : ApiResults.Json(Render(c, stored.Resource));
    }

    private static async Task<IResult> WriteAsync(HttpContext c, string group, string version, string plural, string ns, string? name, PutMode mode)
    {
        if (Kind(group, version, plural) is not { } kind)
        {
            return UnknownKind(group, version, plural);
        }

        var body = await new StreamReader(c.Request.Body, Encoding.UTF8).ReadToEndAsync(c.RequestAborted);
        if (CheckTarget(body, kind, ns, name) is { } mismatch)
        {
            return mismatch;
        }

        var apply = c.RequestServices.GetRequiredService<ApplyService>();
        return ApiResults.Apply(await apply.ApplyAsync(body, "request", DryRun(c), mode, c.RequestAborted));
    }

    private static async Task<IResult> PatchAsync(HttpContext c, string group, string version, string plural, string ns, string name)
    {
        if (Kind(group, version, plural) is not { } kind)
        {
            return UnknownKind(group, version, plural);
        }

        var store = c.RequestServices.GetRequiredService<IResourceStore>();
        if (store.Snapshot.Get(new ResourceKey(kind.Group, kind.Kind, ns, name)) is not { } stored)
        {
            return ApiResults.Failure(404, "NotFound", $"{plural} \"{name}\" not found in namespace {ns}");
        }

        JsonNode? patch;
        try
        {
            patch = JsonNode.Parse(await new StreamReader(c.Request.Body, Encoding.UTF8).ReadToEndAsync(c.RequestAborted));
        }
        catch (System.Text.Json.JsonException e)
        {
            return ApiResults.Failure(400, "BadRequest", "the patch is not valid JSON: " + e.Message);
        }

        var current = ResourceWriter.ToJsonObject(stored.Resource);
        current.Remove("status");
        var merged = MergePatch.Apply(current, patch);
        var apply = c.RequestServices.GetRequiredService<ApplyService>();
        return ApiResults.Apply(await apply.ApplyAsync(merged?.ToJsonString() ?? "", "patch", DryRun(c), PutMode.ReplaceOnly, c.RequestAborted));
    }

    private static async Task<IResult> DeleteAsync(HttpContext c, string group, string version, string plural, string ns, string name)
    {
        if (Kind(group, version, plural) is not { } kind)
        {
            return UnknownKind(group, version, plural);
        }

        var apply = c.RequestServices.GetRequiredService<ApplyService>();
        var key = new ResourceKey(kind.Group, kind.Kind, ns, name);
        return ApiResults.Apply(await apply.WriteAsync([new DeleteOperation(key)], [], c.RequestAborted));
    }

    /// <summary>A body sent to a kind's path must be of that kind, namespace and name.</summary>
    private static IResult? CheckTarget(string body, KindInfo kind, string ns, string? name)
    {
        var read = ResourceReader.Read(body, "request");
        if (read.HasErrors || read.Resources.Count != 1)
        {
            return null; // ApplyService reports the errors in full
        }

        var r = read.Resources[0];
        if (r.Kind != kind.Kind || r.Group != kind.Group || r.Key.Namespace != ns || (name is not null && r.Metadata.Name != name))
        {
            return ApiResults.Failure(400, "BadRequest", $"the body is {r.Key}, which does not match the request path");
        }

        return null;
    }

    /// <summary>A resource as this caller may read it (<c>view</c> gets Secrets without their data).</summary>
    private static JsonObject Render(HttpContext c, Resource r) =>
        Auth.SecretRedaction.Applies(c) ? Auth.SecretRedaction.Redact(ResourceWriter.ToJsonObject(r)) : ResourceWriter.ToJsonObject(r);

    private static bool DryRun(HttpContext c) => c.Request.Query.ContainsKey("dryRun");
}
