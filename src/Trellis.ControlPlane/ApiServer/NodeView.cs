using System.Globalization;
using System.Text.Json.Nodes;
using Trellis.Api.Registry;

namespace Trellis.ControlPlane.ApiServer;

/// <summary>A registered agent rendered as a Kubernetes Node (<c>trellis get nodes</c>): present in the registry means Ready.</summary>
internal static class NodeView
{
    public static JsonObject Render(NodeStatus n) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Node",
        ["metadata"] = new JsonObject
        {
            ["name"] = n.Node,
            ["labels"] = PodView.Map(n.Labels ?? new Dictionary<string, string>()),
        },
        ["status"] = new JsonObject
        {
            ["addresses"] = new JsonArray(new JsonObject { ["type"] = "InternalIP", ["address"] = n.Address ?? "127.0.0.1" }),
            ["capacity"] = n.Capacity is { } c
                ? new JsonObject { ["cpu"] = string.Create(CultureInfo.InvariantCulture, $"{c.CpuMillis}m"), ["memory"] = string.Create(CultureInfo.InvariantCulture, $"{c.MemoryBytes / 1024}Ki") }
                : null,
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "True", ["reason"] = "AgentHeartbeat" }),
            ["pods"] = n.Instances.Count,
        },
    };
}
