namespace Trellis.Api.GatewayApi;

/// <summary>Gateway API <c>ReferenceGrant</c>: lets the listed kinds in other namespaces refer to objects in this one.</summary>
public sealed record ReferenceGrantSpec
{
    public required IReadOnlyList<ReferenceGrantFrom> From { get; init; }

    public required IReadOnlyList<ReferenceGrantTo> To { get; init; }
}

public sealed record ReferenceGrantFrom
{
    public required string Group { get; init; }

    public required string Kind { get; init; }

    public required string Namespace { get; init; }
}

public sealed record ReferenceGrantTo
{
    public required string Group { get; init; }

    public required string Kind { get; init; }

    public string? Name { get; init; }
}
