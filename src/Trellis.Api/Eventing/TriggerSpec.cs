namespace Trellis.Api.Eventing;

/// <summary>Knative <c>Trigger</c>: delivers the broker's events that pass the filter to the subscriber.</summary>
public sealed record TriggerSpec
{
    public required string Broker { get; init; }

    public TriggerFilter? Filter { get; init; }

    /// <summary>The newer Subscriptions API filters; when present, <see cref="Filter"/> is ignored.</summary>
    public IReadOnlyList<SubscriptionsApiFilter> Filters { get; init; } = [];

    public required EventDestination Subscriber { get; init; }

    public DeliverySpec? Delivery { get; init; }
}

/// <summary>Exact match on CloudEvents attributes; an empty value matches any.</summary>
public sealed record TriggerFilter
{
    public IReadOnlyDictionary<string, string> Attributes { get; init; } = new Dictionary<string, string>();
}

/// <summary>One Subscriptions API filter dialect; exactly one field is set, and <see cref="All"/>/<see cref="Any"/>/<see cref="Not"/> nest.</summary>
public sealed record SubscriptionsApiFilter
{
    public IReadOnlyList<SubscriptionsApiFilter> All { get; init; } = [];

    public IReadOnlyList<SubscriptionsApiFilter> Any { get; init; } = [];

    public SubscriptionsApiFilter? Not { get; init; }

    public IReadOnlyDictionary<string, string> Exact { get; init; } = new Dictionary<string, string>();

    public IReadOnlyDictionary<string, string> Prefix { get; init; } = new Dictionary<string, string>();

    public IReadOnlyDictionary<string, string> Suffix { get; init; } = new Dictionary<string, string>();

    /// <summary>A CloudEvents SQL expression.</summary>
    public string? Cesql { get; init; }
}
