using System.Globalization;
using System.Text.Json.Nodes;

namespace Trellis.ControlPlane.GatewayApi;

/// <summary>
/// A Gateway API condition (metav1.Condition). <c>lastTransitionTime</c> is carried over from the previous status
/// while type, status and reason stay the same, so an unchanged status is written once, not on every pass.
/// </summary>
internal sealed record GatewayCondition(string Type, bool Status, string Reason, string Message)
{
    public JsonObject ToJson(long observedGeneration, JsonArray? previous, DateTimeOffset now)
    {
        var status = Status ? "True" : "False";
        var before = previous?.OfType<JsonObject>().FirstOrDefault(c => (string?)c["type"] == Type);
        var since = before is not null && (string?)before["status"] == status && (string?)before["reason"] == Reason
            && (string?)before["lastTransitionTime"] is { } kept ? kept
            : now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        return new JsonObject
        {
            ["type"] = Type,
            ["status"] = status,
            ["reason"] = Reason,
            ["message"] = Message,
            ["observedGeneration"] = observedGeneration,
            ["lastTransitionTime"] = since,
        };
    }

    public static JsonArray Array(IEnumerable<GatewayCondition> conditions, long generation, JsonArray? previous, DateTimeOffset now) =>
        new([.. conditions.Select(c => (JsonNode)c.ToJson(generation, previous, now))]);
}
