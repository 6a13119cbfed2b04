using System.Globalization;
using System.Text.Json.Nodes;

namespace Trellis.Cli.Output;

/// <summary>The columns `trellis get` shows per kind, as kubectl (with Istio's CRD printer columns) would.</summary>
public static class Columns
{
    public sealed record Column(string Header, Func<JsonNode, string> Value, bool WideOnly = false);

    public static IReadOnlyList<Column> For(string kind, DateTimeOffset now, IReadOnlyList<JsonNode> pods) => kind switch
    {
        "VirtualService" => [Name, new("GATEWAYS", o => List(o["spec"]?["gateways"])), new("HOSTS", o => List(o["spec"]?["hosts"])), AgeOf(now)],
        "DestinationRule" => [Name, new("HOST", o => Str(o["spec"]?["host"])), AgeOf(now)],
        "Deployment" => [Name, new("READY", o => Ready(o, pods)), new("AVAILABLE", o => Available(o, pods)), AgeOf(now)],
        "Service" => [Name, new("TYPE", o => Str(o["spec"]?["type"]) is { Length: > 0 } t ? t : "ClusterIP"), new("PORT(S)", Ports), new("SELECTOR", o => Map(o["spec"]?["selector"]), WideOnly: true), AgeOf(now)],
        "Pod" => [Name, new("READY", o => o["status"]?["ready"]?.GetValue<bool>() == true ? "1/1" : "0/1"), new("STATUS", o => Str(o["status"]?["phase"])),
            new("RESTARTS", o => Str(o["status"]?["restartCount"])), new("AGE", o => Age.Since(Str(o["status"]?["startTime"]), now)),
            new("IP", o => Str(o["status"]?["podIP"]), WideOnly: true), new("PORTS", o => Map(o["status"]?["ports"]), WideOnly: true), new("NODE", o => Str(o["spec"]?["nodeName"]), WideOnly: true)],
        "Node" => [Name, new("STATUS", o => Condition(o, "Ready") == "True" ? "Ready" : "NotReady"), new("ADDRESS", o => Str(o["status"]?["addresses"]?[0]?["address"])),
            new("CPU", o => Str(o["status"]?["capacity"]?["cpu"])), new("MEMORY", o => Str(o["status"]?["capacity"]?["memory"])), new("PODS", o => Str(o["status"]?["pods"])),
            new("LABELS", o => Map(o["metadata"]?["labels"]), WideOnly: true)],
        "Endpoints" => [Name, new("ENDPOINTS", o => List(o["endpoints"]) is { Length: > 0 } e ? e : "<none>")],
        "KnativeService" => [Name, new("URL", o => Str(o["status"]?["url"])), new("LATESTCREATED", o => Str(o["status"]?["latestCreatedRevisionName"])),
            new("LATESTREADY", o => Str(o["status"]?["latestReadyRevisionName"])), new("READY", o => Condition(o, "Ready")), new("REASON", o => Reason(o, "Ready")),
            new("TRAFFIC", o => Traffic(o), WideOnly: true)],
        "Revision" => [Name, new("CONFIG NAME", o => Str(o["metadata"]?["labels"]?["serving.knative.dev/configuration"])),
            new("GENERATION", o => Str(o["metadata"]?["labels"]?["serving.knative.dev/configurationGeneration"])), new("READY", o => Condition(o, "Ready")),
            new("REASON", o => Reason(o, "Ready")), new("ACTUAL REPLICAS", o => Str(o["status"]?["actualReplicas"])), new("DESIRED REPLICAS", o => Str(o["status"]?["desiredReplicas"]))],
        "Route" => [Name, new("URL", o => Str(o["status"]?["url"])), new("READY", o => Condition(o, "Ready")), new("TRAFFIC", o => Traffic(o))],
        "Configuration" => [Name, new("LATESTCREATED", o => Str(o["status"]?["latestCreatedRevisionName"])), new("LATESTREADY", o => Str(o["status"]?["latestReadyRevisionName"])), new("READY", o => Condition(o, "Ready"))],
        "Broker" => [Name, new("URL", o => Str(o["status"]?["address"]?["url"])), AgeOf(now), new("READY", o => Condition(o, "Ready")), new("REASON", o => Reason(o, "Ready"))],
        "Trigger" => [Name, new("BROKER", o => Str(o["spec"]?["broker"])), new("SUBSCRIBER_URI", o => Str(o["status"]?["subscriberUri"])), AgeOf(now),
            new("READY", o => Condition(o, "Ready")), new("REASON", o => Reason(o, "Ready")),
            new("DELIVERED", o => Str(o["status"]?["delivery"]?["delivered"]), WideOnly: true), new("RETRIED", o => Str(o["status"]?["delivery"]?["retried"]), WideOnly: true),
            new("DEAD-LETTERED", o => Str(o["status"]?["delivery"]?["deadLettered"]), WideOnly: true), new("DROPPED", o => Str(o["status"]?["delivery"]?["dropped"]), WideOnly: true)],
        "PingSource" => [Name, new("SINK", o => Str(o["status"]?["sinkUri"])), new("SCHEDULE", o => Str(o["spec"]?["schedule"])), AgeOf(now),
            new("READY", o => Condition(o, "Ready")), new("REASON", o => Reason(o, "Ready")), new("SENT", o => Str(o["status"]?["sent"]), WideOnly: true)],
        "SinkBinding" => [Name, new("SINK", o => Str(o["status"]?["sinkUri"])), AgeOf(now), new("READY", o => Condition(o, "Ready")), new("REASON", o => Reason(o, "Ready"))],
        "Call" => [new("ID", o => Str(o["id"])), new("FUNCTION", o => Str(o["function"])), new("NAMESPACE", o => Str(o["namespace"]), WideOnly: true), new("PHASE", o => Str(o["phase"])),
            new("ATTEMPTS", o => Str(o["attempts"])), new("STATUS", o => Str(o["statusCode"])), new("AGE", o => Age.Since(Str(o["queuedAt"]), now)),
            new("CALLBACK", o => Str(o["callback"]), WideOnly: true), new("ERROR", o => Str(o["error"]), WideOnly: true)],
        "Event" => [new("LAST SEEN", o => Age.Since(Str(o["lastTimestamp"]), now)), new("TYPE", o => Str(o["type"])), new("REASON", o => Str(o["reason"])),
            new("OBJECT", o => $"{Str(o["involvedObject"]?["kind"]).ToLowerInvariant()}/{Str(o["involvedObject"]?["name"])}"), new("MESSAGE", o => Str(o["message"]))],
        "Proxy" => [new("NAME", o => Str(o["name"])), new("ROLE", o => Str(o["role"])), new("SYNCED", o => o["synced"]?.GetValue<bool>() == true ? "SYNCED" : o["nacked"] is null ? "STALE" : "NACKED"), new("VERSION", o => Str(o["acked"]))],
        _ => [Name, AgeOf(now)],
    };

    private static readonly Column Name = new("NAME", o => Str(o["metadata"]?["name"]));

    public static readonly Column Namespace = new("NAMESPACE", o => Str(o["metadata"]?["namespace"]));

    private static Column AgeOf(DateTimeOffset now) => new("AGE", o => Age.Since(Str(o["metadata"]?["creationTimestamp"]), now));

    private static JsonNode? ConditionOf(JsonNode o, string type) =>
        (o["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == type);

    private static string Condition(JsonNode o, string type) => Str(ConditionOf(o, type)?["status"]) is { Length: > 0 } s ? s : "Unknown";

    private static string Reason(JsonNode o, string type) => Str(ConditionOf(o, type)?["reason"]);

    private static string Traffic(JsonNode o) => o["status"]?["traffic"] is JsonArray t
        ? string.Join(",", t.Select(x => $"{Str(x?["revisionName"])}={Str(x?["percent"])}%{(Str(x?["tag"]) is { Length: > 0 } tag ? "#" + tag : "")}"))
        : "";

    private static string Ready(JsonNode deployment, IReadOnlyList<JsonNode> pods)
    {
        var mine = Owned(deployment, pods);
        var replicas = deployment["spec"]?["replicas"]?.GetValue<int>() ?? 1;
        return $"{mine.Count(p => p["status"]?["ready"]?.GetValue<bool>() == true)}/{replicas}";
    }

    private static string Available(JsonNode deployment, IReadOnlyList<JsonNode> pods) =>
        Owned(deployment, pods).Count(p => p["status"]?["ready"]?.GetValue<bool>() == true).ToString(CultureInfo.InvariantCulture);

    private static List<JsonNode> Owned(JsonNode deployment, IReadOnlyList<JsonNode> pods)
    {
        var name = Str(deployment["metadata"]?["name"]);
        var ns = Str(deployment["metadata"]?["namespace"]);
        return pods.Where(p => Str(p["metadata"]?["namespace"]) == ns && p["metadata"]?["ownerReferences"]?[0]?["name"]?.GetValue<string>() == name).ToList();
    }

    private static string Ports(JsonNode o) =>
        o["spec"]?["ports"] is JsonArray ports ? string.Join(",", ports.Select(p => $"{Str(p?["port"])}/{(Str(p?["protocol"]) is { Length: > 0 } pr ? pr : "TCP")}")) : "<none>";

    public static string Str(JsonNode? n) => n switch
    {
        null => "",
        JsonValue v => v.ToString(),
        _ => n.ToJsonString(),
    };

    private static string List(JsonNode? n) => n is JsonArray a ? "[" + string.Join(",", a.Select(Str)) + "]" : "";

    private static string Map(JsonNode? n) => n is JsonObject o ? string.Join(",", o.Select(kv => $"{kv.Key}={Str(kv.Value)}")) : "<none>";
}
