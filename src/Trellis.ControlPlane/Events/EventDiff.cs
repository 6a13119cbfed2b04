using System.Globalization;
using System.Text.Json.Nodes;
using Trellis.Api;
using Trellis.Api.Registry;
using Trellis.ControlPlane.Compiler;

namespace Trellis.ControlPlane.Events;

/// <summary>The object an event is about (Kubernetes' <c>involvedObject</c>, or <c>related</c>).</summary>
public sealed record EventObject(string ApiVersion, string Kind, string Namespace, string Name);

/// <summary>One event before it is logged: <paramref name="Type"/> is <c>Normal</c> or <c>Warning</c>, as in Kubernetes.</summary>
public sealed record EventDraft(EventObject Object, string Type, string Reason, string Message, EventObject? Related = null);

/// <summary>
/// What happened between two mesh states, as Kubernetes events: a condition of a stored object that turned True
/// (Normal) or False (Warning), and what the registry saw of pods: started, ready, unready, restarted, gone.
/// A function of the two states (no clock, no I/O), so that it is tested with tables; <see cref="EventRecorder"/> applies it.
/// </summary>
public static class EventDiff
{
    public static IReadOnlyList<EventDraft> Between(MeshState previous, MeshState next)
    {
        var events = new List<EventDraft>();
        foreach (var (key, stored) in next.Store.Objects)
        {
            var before = previous.Store.Get(key)?.Resource.Status;
            if (stored.Resource.Status is { } status && !ReferenceEquals(before, status))
            {
                Conditions(stored.Resource, Conditions(before), status, events);
            }
        }

        var old = previous.Instances.ToDictionary(i => (i.Namespace, i.Id));
        foreach (var instance in next.Instances)
        {
            Pod(old.GetValueOrDefault((instance.Namespace, instance.Id)), instance, events);
            old.Remove((instance.Namespace, instance.Id));
        }

        foreach (var gone in old.Values)
        {
            events.Add(new(PodOf(gone), "Normal", "Stopped", $"Instance stopped on node {gone.Node}", DeploymentOf(gone)));
        }

        return events;
    }

    private static void Conditions(Resource resource, Dictionary<string, string> before, JsonObject status, List<EventDraft> events)
    {
        var involved = new EventObject(resource.ApiVersion, resource.Kind, resource.Key.Namespace, resource.Metadata.Name);
        foreach (var condition in status["conditions"] as JsonArray ?? [])
        {
            var type = Str(condition?["type"]);
            var now = Str(condition?["status"]);
            if (type.Length == 0 || now is not ("True" or "False") || before.GetValueOrDefault(type) == now)
            {
                continue;
            }

            var reason = Str(condition?["reason"]) is { Length: > 0 } r ? r : type;
            var message = Str(condition?["message"]) is { Length: > 0 } m ? $"{type} is {now}: {m}" : $"{type} is {now}";
            events.Add(new(involved, now == "True" ? "Normal" : "Warning", reason, message));
        }
    }

    private static Dictionary<string, string> Conditions(JsonObject? status) =>
        (status?["conditions"] as JsonArray ?? [])
            .Select(c => (Type: Str(c?["type"]), Status: Str(c?["status"])))
            .Where(c => c.Type.Length > 0)
            .GroupBy(c => c.Type)
            .ToDictionary(g => g.Key, g => g.Last().Status, StringComparer.Ordinal);

    private static void Pod(WorkloadInstance? before, WorkloadInstance now, List<EventDraft> events)
    {
        var pod = PodOf(now);
        var owner = DeploymentOf(now);
        var detail = string.IsNullOrEmpty(now.Message) ? "" : ": " + now.Message;
        if (before is null)
        {
            var pid = now.Pid is { } p ? string.Create(CultureInfo.InvariantCulture, $" (pid {p})") : "";
            events.Add(new(pod, "Normal", "Started", $"Instance started on node {now.Node}{pid}", owner));
        }
        else if (now.Restarts > before.Restarts)
        {
            events.Add(new(pod, "Warning", "BackOff", string.Create(CultureInfo.InvariantCulture, $"Restarted (restart {now.Restarts}){detail}"), owner));
        }

        if (now.Ready && before?.Ready != true)
        {
            events.Add(new(pod, "Normal", "Ready", "Readiness probe passed", owner));
        }
        else if (!now.Ready && before?.Ready == true)
        {
            events.Add(new(pod, "Warning", "Unhealthy", $"Not ready ({now.Phase}){detail}", owner));
        }
    }

    private static EventObject PodOf(WorkloadInstance i) => new("v1", "Pod", i.Namespace, i.Id);

    private static EventObject DeploymentOf(WorkloadInstance i) => new("apps/v1", "Deployment", i.Namespace, i.Workload);

    private static string Str(JsonNode? n) => n is JsonValue v ? v.ToString() : "";
}
