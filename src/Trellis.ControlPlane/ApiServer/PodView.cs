using System.Text.Json.Nodes;
using Trellis.Api.Registry;

namespace Trellis.ControlPlane.ApiServer;

/// <summary>A workload instance rendered as a Kubernetes-like Pod, so kubectl habits carry over.</summary>
internal static class PodView
{
    public static JsonObject Render(WorkloadInstance i) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Pod",
        ["metadata"] = new JsonObject
        {
            ["name"] = i.Id,
            ["namespace"] = i.Namespace,
            ["labels"] = Map(i.Labels),
            ["ownerReferences"] = new JsonArray(new JsonObject { ["kind"] = "Deployment", ["name"] = i.Workload }),
        },
        ["spec"] = new JsonObject { ["nodeName"] = i.Node },
        ["status"] = new JsonObject
        {
            ["phase"] = i.Phase,
            ["ready"] = i.Ready,
            ["restartCount"] = i.Restarts,
            ["podIP"] = i.Host,
            ["ports"] = new JsonObject(i.Ports.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            ["pid"] = i.Pid,
            ["startTime"] = i.StartedAt,
            ["message"] = i.Message,
            ["conditions"] = Conditions(i),
        },
    };

    /// <summary>
    /// The Pod's Ready condition, with the time readiness last changed to the tick (Kubernetes rounds
    /// to seconds; a cold start is measured in milliseconds, e.g. by bench/run serving).
    /// </summary>
    private static JsonArray Conditions(WorkloadInstance i) => i.ReadyAt is { } at
        ? [new JsonObject { ["type"] = "Ready", ["status"] = i.Ready ? "True" : "False", ["lastTransitionTime"] = at }]
        : [];

    public static JsonObject Map(IReadOnlyDictionary<string, string> map) =>
        new(map.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
}
