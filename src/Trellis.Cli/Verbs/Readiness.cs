using System.Text.Json.Nodes;
using Trellis.Cli.Output;

namespace Trellis.Cli.Verbs;

public enum ReadyState
{
    Ready,
    Pending,
    Failed,
}

/// <summary>Whether one resource is ready, and if not, why (shown when <c>apply --wait</c> gives up or fails).</summary>
public sealed record Readiness(ReadyState State, string Reason)
{
    public static readonly Readiness Ready = new(ReadyState.Ready, "");

    /// <summary>
    /// The rule <c>trellis apply --wait</c> waits on, per kind, as <c>kubectl wait</c>/<c>kn</c> would read status:
    /// a Deployment when its replicas are ready; a Knative kind (or any with a <c>Ready</c> condition) when that
    /// condition is there and True for the current generation; a Gateway API Gateway when <c>Programmed</c>, a route when every parent accepted it
    /// with its references resolved. Kinds without status (VirtualService, DestinationRule, Service...) take effect
    /// once stored; their effect is the push to the proxies, which the caller waits on separately.
    /// </summary>
    /// <param name="pods">The pods view, for Deployments.</param>
    public static Readiness Of(JsonNode resource, IReadOnlyList<JsonNode> pods)
    {
        var kind = Columns.Str(resource["kind"]);
        var apiVersion = Columns.Str(resource["apiVersion"]);
        var status = resource["status"];
        var generation = resource["metadata"]?["generation"]?.GetValue<long>();
        if (kind == "Deployment" && apiVersion.StartsWith("apps/", StringComparison.Ordinal))
        {
            return Deployment(resource, pods);
        }

        if (apiVersion.StartsWith(Trellis.Api.ResourceKinds.GatewayApi + "/", StringComparison.Ordinal))
        {
            return kind switch
            {
                "Gateway" => Condition(status?["conditions"], "Accepted", generation, failOnFalse: true) is { State: not ReadyState.Ready } accepted
                    ? accepted
                    : Condition(status?["conditions"], "Programmed", generation, failOnFalse: false),
                "HTTPRoute" or "GRPCRoute" => Route(status, generation),
                _ => Ready,
            };
        }

        if (status?["observedGeneration"]?.GetValue<long>() is { } observed && generation is { } g && observed < g)
        {
            return new(ReadyState.Pending, $"the controller has not seen generation {g} yet");
        }

        // Knative's kinds always get a Ready condition from their reconciler: until it is there, it has not run yet.
        var reconciled = apiVersion.StartsWith(Trellis.Api.ResourceKinds.KnativeServing + "/", StringComparison.Ordinal);
        return reconciled || (status?["conditions"] as JsonArray)?.Any(c => Columns.Str(c?["type"]) == "Ready") == true
            ? Condition(status?["conditions"], "Ready", generation, failOnFalse: true)
            : Ready;
    }

    private static Readiness Deployment(JsonNode deployment, IReadOnlyList<JsonNode> pods)
    {
        if (Find(deployment["status"]?["conditions"], "PodScheduled") is { } scheduled && Columns.Str(scheduled["status"]) == "False")
        {
            return new(ReadyState.Failed, $"{Columns.Str(scheduled["reason"])}: {Columns.Str(scheduled["message"])}");
        }

        var name = Columns.Str(deployment["metadata"]?["name"]);
        var ns = Columns.Str(deployment["metadata"]?["namespace"]);
        var wanted = deployment["spec"]?["replicas"]?.GetValue<int>() ?? 1;
        var ready = pods.Count(p => Columns.Str(p["metadata"]?["namespace"]) == ns
            && Columns.Str(p["metadata"]?["ownerReferences"]?[0]?["name"]) == name
            && p["status"]?["ready"]?.GetValue<bool>() == true);
        return ready >= wanted ? Ready : new(ReadyState.Pending, $"{ready}/{wanted} pods ready");
    }

    private static Readiness Route(JsonNode? status, long? generation)
    {
        if (status?["parents"] is not JsonArray { Count: > 0 } parents)
        {
            return new(ReadyState.Pending, "no parent Gateway has accepted it yet");
        }

        foreach (var parent in parents)
        {
            var name = Columns.Str(parent?["parentRef"]?["name"]);
            foreach (var type in new[] { "Accepted", "ResolvedRefs" })
            {
                if (Condition(parent?["conditions"], type, generation, failOnFalse: true) is { State: not ReadyState.Ready } r)
                {
                    return r with { Reason = $"parent {name}: {r.Reason}" };
                }
            }
        }

        return Ready;
    }

    private static Readiness Condition(JsonNode? conditions, string type, long? generation, bool failOnFalse)
    {
        if (Find(conditions, type) is not { } c)
        {
            return new(ReadyState.Pending, $"no {type} condition yet");
        }

        if (c["observedGeneration"]?.GetValue<long>() is { } observed && generation is { } g && observed < g)
        {
            return new(ReadyState.Pending, $"{type} is for generation {observed}, not {g}");
        }

        var why = string.Join(": ", new[] { Columns.Str(c["reason"]), Columns.Str(c["message"]) }.Where(s => s.Length > 0));
        return Columns.Str(c["status"]) switch
        {
            "True" => Ready,
            "False" when failOnFalse => new(ReadyState.Failed, $"{type} is False{(why.Length > 0 ? " (" + why + ")" : "")}"),
            var s => new(ReadyState.Pending, $"{type} is {(s.Length > 0 ? s : "Unknown")}{(why.Length > 0 ? " (" + why + ")" : "")}"),
        };
    }

    private static JsonNode? Find(JsonNode? conditions, string type) =>
        (conditions as JsonArray)?.FirstOrDefault(c => Columns.Str(c?["type"]) == type);
}
