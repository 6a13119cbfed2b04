using Trellis.Api.Workloads;

namespace Trellis.Api.Eventing;

/// <summary>
/// Knative <c>sources.knative.dev/v1 SinkBinding</c>: the instances of the <see cref="Subject"/> get the resolved
/// <see cref="Sink"/> as <c>K_SINK</c> and <see cref="CeOverrides"/> as <c>K_CE_OVERRIDES</c> in their environment,
/// so any program that reads those can be an event source.
/// </summary>
public sealed record SinkBindingSpec
{
    public required BindingSubject Subject { get; init; }

    public required EventDestination Sink { get; init; }

    public CloudEventOverrides? CeOverrides { get; init; }
}

/// <summary>
/// Knative's <c>tracker.Reference</c>: one object by <see cref="Name"/>, or every object of the kind whose labels
/// <see cref="Selector"/> selects, in the binding's namespace.
/// </summary>
public sealed record BindingSubject
{
    public string ApiVersion { get; init; } = "";

    public string Kind { get; init; } = "";

    public string? Namespace { get; init; }

    public string? Name { get; init; }

    public LabelSelector? Selector { get; init; }
}
