using System.Text.Json.Nodes;
using Trellis.Api.Registry;
using Trellis.Api.Workloads;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.ApiServer;

/// <summary>Per Service, the instance addresses the mesh sends its traffic to (the instances' inbound proxy listeners).</summary>
internal static class EndpointsView
{
    public static JsonObject Render(StoreSnapshot store, IReadOnlyList<WorkloadInstance> instances, string? ns)
    {
        var items = new JsonArray();
        foreach (var stored in store.List("", "Service", ns))
        {
            var r = stored.Resource;
            var spec = r.Spec as ServiceSpec;
            var selected = spec is null || spec.Selector.Count == 0 ? []
                : instances.Where(i => i.Namespace == r.Key.Namespace && Labels.Selects(spec.Selector, i.Labels)).ToList();
            items.Add(new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Endpoints",
                ["metadata"] = new JsonObject { ["name"] = r.Metadata.Name, ["namespace"] = r.Key.Namespace },
                ["endpoints"] = new JsonArray(selected.Where(i => i.Ready).Select(i => (JsonNode)$"{i.Host}:{Port(i)}").ToArray()),
                ["notReady"] = new JsonArray(selected.Where(i => !i.Ready).Select(i => (JsonNode)i.Id).ToArray()),
                ["pods"] = new JsonArray(selected.Select(i => (JsonNode)i.Id).ToArray()),
            });
        }

        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "List", ["items"] = items };
    }

    private static int Port(WorkloadInstance i) =>
        i.Ports.TryGetValue(WorkloadInstance.InboundPort, out var p) ? p : i.Ports.GetValueOrDefault(WorkloadInstance.AppPort);
}
