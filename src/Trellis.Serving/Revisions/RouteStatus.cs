using System.Text.Json.Nodes;
using Trellis.Api;
using Trellis.Api.Serving;

namespace Trellis.Serving.Revisions;

/// <summary>Knative <c>RouteStatus</c>: the URL and the traffic split with every target resolved to a revision.</summary>
public sealed record RouteStatus
{
    public long ObservedGeneration { get; init; }

    public string? Url { get; init; }

    /// <summary>Resolved targets: <c>revisionName</c> always set, <c>url</c> set for tagged ones.</summary>
    public IReadOnlyList<TrafficTarget> Traffic { get; init; } = [];

    public IReadOnlyList<Condition> Conditions { get; init; } = [];

    public Condition? Ready => Conditions.FirstOrDefault(c => c.Type == ConditionTypes.Ready);

    public JsonObject ToJson() => ResourceWriter.WriteObject(this);
}
