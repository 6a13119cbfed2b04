using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Trellis.Api;
using Trellis.Api.Diagnostics;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.ApiServer;

/// <summary>Renders store objects and failures the way kubectl-style clients expect (List, Status).</summary>
internal static class ApiResults
{
    public static IResult Object(StoredResource stored) => Json(ResourceWriter.ToJsonObject(stored.Resource));

    public static IResult List(IEnumerable<StoredResource> items, long revision, bool redactSecrets = false) => Json(new JsonObject
    {
        ["apiVersion"] = "v1",
        ["kind"] = "List",
        ["metadata"] = new JsonObject { ["resourceVersion"] = revision.ToString(CultureInfo.InvariantCulture) },
        ["items"] = new JsonArray(items.Select(i => (JsonNode)(redactSecrets ? Auth.SecretRedaction.Redact(ResourceWriter.ToJsonObject(i.Resource)) : ResourceWriter.ToJsonObject(i.Resource))).ToArray()),
    });

    public static IResult Failure(int code, string reason, string? message, IReadOnlyList<Diagnostic>? diagnostics = null) => Json(new JsonObject
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Status",
        ["status"] = "Failure",
        ["reason"] = reason,
        ["message"] = message,
        ["code"] = code,
        ["diagnostics"] = Diagnostics(diagnostics ?? []),
    }, code);

    public static IResult Apply(ApplyResponse response)
    {
        if (response.StatusCode != 200)
        {
            return Failure(response.StatusCode, response.Reason ?? "Failure", response.Message, response.Diagnostics);
        }

        return Json(new JsonObject
        {
            ["kind"] = "ApplyResult",
            ["message"] = response.Message,
            ["results"] = new JsonArray(response.Outcomes.Select(o => (JsonNode)new JsonObject
            {
                ["group"] = o.Key.Group,
                ["kind"] = o.Key.Kind,
                ["namespace"] = o.Key.Namespace,
                ["name"] = o.Key.Name,
                ["change"] = o.Change.ToString().ToLowerInvariant(),
            }).ToArray()),
            ["diagnostics"] = Diagnostics(response.Diagnostics),
        });
    }

    public static JsonArray Diagnostics(IEnumerable<Diagnostic> diagnostics) =>
        new(diagnostics.Select(d => (JsonNode)new JsonObject
        {
            ["code"] = d.Code,
            ["severity"] = d.Severity.ToString().ToLowerInvariant(),
            ["message"] = d.Message,
            ["path"] = d.Path,
            ["source"] = d.Source,
            ["line"] = d.Line,
            ["column"] = d.Column,
            ["resource"] = d.Resource,
        }).ToArray());

    public static IResult Json(JsonNode node, int status = 200) =>
        Results.Text(node.ToJsonString(Indented), "application/json", statusCode: status);

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
