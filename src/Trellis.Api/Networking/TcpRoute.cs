namespace Trellis.Api.Networking;

/// <summary>Routing of opaque TCP traffic, kept for completeness; matched on L4 attributes.</summary>
public sealed record TcpRoute
{
    public IReadOnlyList<L4MatchAttributes> Match { get; init; } = [];

    public IReadOnlyList<RouteDestination> Route { get; init; } = [];
}

/// <summary>Routing of TLS traffic by SNI without terminating it.</summary>
public sealed record TlsRoute
{
    public IReadOnlyList<TlsMatchAttributes> Match { get; init; } = [];

    public IReadOnlyList<RouteDestination> Route { get; init; } = [];
}

public sealed record RouteDestination
{
    public required Destination Destination { get; init; }

    public int? Weight { get; init; }
}

public sealed record L4MatchAttributes
{
    public IReadOnlyList<string> DestinationSubnets { get; init; } = [];

    public int? Port { get; init; }

    public string? SourceSubnet { get; init; }

    public IReadOnlyDictionary<string, string> SourceLabels { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<string> Gateways { get; init; } = [];

    public string? SourceNamespace { get; init; }
}

public sealed record TlsMatchAttributes
{
    public required IReadOnlyList<string> SniHosts { get; init; }

    public IReadOnlyList<string> DestinationSubnets { get; init; } = [];

    public int? Port { get; init; }

    public IReadOnlyDictionary<string, string> SourceLabels { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<string> Gateways { get; init; } = [];

    public string? SourceNamespace { get; init; }
}
