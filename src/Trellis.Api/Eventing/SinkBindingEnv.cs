using System.Text.Json.Nodes;

namespace Trellis.Api.Eventing;

/// <summary>
/// What a SinkBinding gives the instances of a Deployment it binds, and where that is written. Knative's webhook
/// rewrites the subject's pod template; Trellis leaves the user's spec alone (a re-apply of the same file must not
/// undo the binding, and the control plane must not fight the user over their spec) and records the binding in the
/// Deployment's status instead, as the scheduler records placements. The agent adds these variables after the
/// container's own env when it starts an instance, so they win over a <c>K_SINK</c> the spec sets, as Knative's
/// Undo-then-Do does; a change of them replaces the instances, as a new pod template would.
/// </summary>
public static class SinkBindingEnv
{
    /// <summary>The Deployment status field: <c>{binding, sink, ceOverrides}</c>.</summary>
    public const string StatusField = "sinkBinding";

    public const string Sink = "K_SINK";

    public const string CeOverrides = "K_CE_OVERRIDES";

    /// <summary>Knative's Undo also removes this one: the sink's CA, which a binding to a plain-HTTP sink does not set.</summary>
    public const string CaCerts = "K_CA_CERTS";

    /// <summary>The status value for a Deployment bound by <paramref name="binding"/>.</summary>
    public static JsonObject ToStatus(string binding, string sink, string ceOverrides) =>
        new() { ["binding"] = binding, ["sink"] = sink, ["ceOverrides"] = ceOverrides };

    /// <summary>
    /// The environment a Deployment's instances get from the binding in its status: <c>K_SINK</c> and
    /// <c>K_CE_OVERRIDES</c> (empty when the binding has no overrides, as in Knative); nothing when it is not bound.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Of(JsonNode? status)
    {
        if (status?[StatusField] is not JsonObject bound || (string?)bound["sink"] is not { Length: > 0 } sink)
        {
            return [];
        }

        return [new(Sink, sink), new(CeOverrides, (string?)bound["ceOverrides"] ?? "")];
    }

    /// <summary>
    /// Knative's <c>K_CE_OVERRIDES</c> value: the <c>ceOverrides</c> object as JSON (<c>{"extensions":{"k":"v"}}</c>),
    /// or empty without overrides.
    /// </summary>
    public static string OverridesJson(CloudEventOverrides? overrides) => overrides is null ? ""
        : overrides.Extensions.Count == 0 ? "{}" // Go's omitempty, as Knative marshals it
        : new JsonObject { ["extensions"] = new JsonObject(overrides.Extensions.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => KeyValuePair.Create(e.Key, (JsonNode?)e.Value))) }.ToJsonString();
}
