namespace Trellis.Api.Networking;

/// <summary>A service (and optionally a subset and port of it) that traffic is sent to.</summary>
public sealed record Destination
{
    /// <summary>Service host; short names are relative to the rule's namespace (see <see cref="HostNames.Qualify"/>).</summary>
    public required string Host { get; init; }

    /// <summary>Name of a subset defined by a DestinationRule for <see cref="Host"/>.</summary>
    public string? Subset { get; init; }

    public PortSelector? Port { get; init; }
}

public sealed record PortSelector
{
    public int? Number { get; init; }
}

/// <summary>Percentage as a double in [0, 100], Istio's <c>Percent</c> message.</summary>
public sealed record Percent
{
    public double Value { get; init; }
}
