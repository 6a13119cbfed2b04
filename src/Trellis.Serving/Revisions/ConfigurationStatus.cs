using System.Text.Json.Nodes;
using Trellis.Api;

namespace Trellis.Serving.Revisions;

/// <summary>Knative <c>ConfigurationStatus</c>.</summary>
public sealed record ConfigurationStatus
{
    public long ObservedGeneration { get; init; }

    public string? LatestCreatedRevisionName { get; init; }

    public string? LatestReadyRevisionName { get; init; }

    public IReadOnlyList<Condition> Conditions { get; init; } = [];

    public Condition? Ready => Conditions.FirstOrDefault(c => c.Type == ConditionTypes.Ready);

    /// <summary>The status as it is stored in <see cref="Resource.Status"/>.</summary>
    public JsonObject ToJson() => ResourceWriter.WriteObject(this);
}
