using System.Text.Json.Nodes;
using Trellis.Api;
using Trellis.Api.Serving;

namespace Trellis.Serving.Revisions;

/// <summary>Knative <c>ServiceStatus</c>: the Configuration's and the Route's status folded together.</summary>
public sealed record ServiceStatus
{
    public long ObservedGeneration { get; init; }

    public string? Url { get; init; }

    public string? LatestCreatedRevisionName { get; init; }

    public string? LatestReadyRevisionName { get; init; }

    public IReadOnlyList<TrafficTarget> Traffic { get; init; } = [];

    public IReadOnlyList<Condition> Conditions { get; init; } = [];

    public Condition? Condition(string type) => Conditions.FirstOrDefault(c => c.Type == type);

    public JsonObject ToJson() => ResourceWriter.WriteObject(this);
}
