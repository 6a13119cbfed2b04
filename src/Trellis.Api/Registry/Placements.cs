using System.Text.Json.Nodes;

namespace Trellis.Api.Registry;

/// <summary>
/// Where the scheduler put a Deployment's replicas: <c>status.placement</c>, replicas per node name.
/// The control plane's scheduler writes it; each agent runs the count for its own node.
/// </summary>
public static class Placements
{
    public const string Field = "placement";

    /// <summary>The replicas placed on <paramref name="node"/>; 0 when none are (or nothing is scheduled yet).</summary>
    public static int ReplicasOn(Resource deployment, string node) => Count(deployment.Status?[Field]?[node]) ?? 0;

    /// <summary>The recorded placement, or null before the first scheduling.</summary>
    public static IReadOnlyDictionary<string, int>? Of(JsonNode? status) =>
        status?[Field] is JsonObject placement
            ? placement.Where(p => Count(p.Value) is not null).ToDictionary(p => p.Key, p => Count(p.Value)!.Value, StringComparer.Ordinal)
            : null;

    /// <summary>A count as a JsonNode built in code holds it (int), or as the reader binds it into a status object (long).</summary>
    private static int? Count(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<int>(out var n) => n,
        JsonValue v when v.TryGetValue<long>(out var l) && l is >= 0 and <= int.MaxValue => (int)l,
        JsonValue v when v.TryGetValue<string>(out var s) && int.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) => n,
        _ => null,
    };
}
