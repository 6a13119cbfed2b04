using System.Text.Json.Nodes;

namespace Trellis.Api.GatewayApi;

/// <summary>Gateway API <c>GRPCRoute</c>: like <see cref="HttpRouteSpec"/>, matched on gRPC service and method.</summary>
public sealed record GrpcRouteSpec
{
    public IReadOnlyList<ParentReference> ParentRefs { get; init; } = [];

    public IReadOnlyList<string> Hostnames { get; init; } = [];

    public IReadOnlyList<GrpcRouteRule> Rules { get; init; } = [];
}

public sealed record GrpcRouteRule
{
    public string? Name { get; init; }

    public IReadOnlyList<GrpcRouteMatch> Matches { get; init; } = [];

    public IReadOnlyList<HttpRouteFilter> Filters { get; init; } = [];

    public IReadOnlyList<HttpBackendRef> BackendRefs { get; init; } = [];

    public JsonNode? SessionPersistence { get; init; }
}

public sealed record GrpcRouteMatch
{
    public GrpcMethodMatch? Method { get; init; }

    public IReadOnlyList<HttpHeaderMatch> Headers { get; init; } = [];
}

public sealed record GrpcMethodMatch
{
    /// <summary>Exact (default) or RegularExpression.</summary>
    public string? Type { get; init; }

    public string? Service { get; init; }

    public string? Method { get; init; }
}
