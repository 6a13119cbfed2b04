namespace Trellis.Api.GatewayApi;

/// <summary>
/// Gateway API <c>TCPRoute</c> (<c>gateway.networking.k8s.io/v1alpha2</c>, experimental channel): every connection
/// a <c>TCP</c> listener it attaches to accepts goes to its backends by weight. docs/tcp.md.
/// </summary>
public sealed record TcpRouteSpec
{
    public IReadOnlyList<ParentReference> ParentRefs { get; init; } = [];

    public IReadOnlyList<TcpRouteRule> Rules { get; init; } = [];
}

public sealed record TcpRouteRule
{
    public string? Name { get; init; }

    public IReadOnlyList<BackendRef> BackendRefs { get; init; } = [];
}

/// <summary>A backend of a route without per-backend filters (TCPRoute, TLSRoute).</summary>
public sealed record BackendRef
{
    public string? Group { get; init; }

    /// <summary>Defaults to Service.</summary>
    public string? Kind { get; init; }

    public required string Name { get; init; }

    public string? Namespace { get; init; }

    public int? Port { get; init; }

    /// <summary>Relative share; defaults to 1.</summary>
    public int? Weight { get; init; }
}
