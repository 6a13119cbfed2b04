using System.Text.Json.Nodes;

namespace Trellis.Api.GatewayApi;

/// <summary>Gateway API <c>HTTPRoute</c>: rules attached to the gateways (or, for mesh, services) in <see cref="ParentRefs"/>.</summary>
public sealed record HttpRouteSpec
{
    public IReadOnlyList<ParentReference> ParentRefs { get; init; } = [];

    public IReadOnlyList<string> Hostnames { get; init; } = [];

    public IReadOnlyList<HttpRouteRule> Rules { get; init; } = [];
}

/// <summary>A Gateway (default) or, for mesh routing, a Service the route attaches to.</summary>
public sealed record ParentReference
{
    /// <summary>Defaults to gateway.networking.k8s.io; empty for a core Service.</summary>
    public string? Group { get; init; }

    /// <summary>Defaults to Gateway.</summary>
    public string? Kind { get; init; }

    public string? Namespace { get; init; }

    public required string Name { get; init; }

    public string? SectionName { get; init; }

    public int? Port { get; init; }
}

public sealed record HttpRouteRule
{
    public string? Name { get; init; }

    /// <summary>OR-ed; empty means a path prefix match on <c>/</c>.</summary>
    public IReadOnlyList<HttpRouteMatch> Matches { get; init; } = [];

    public IReadOnlyList<HttpRouteFilter> Filters { get; init; } = [];

    public IReadOnlyList<HttpBackendRef> BackendRefs { get; init; } = [];

    public HttpRouteTimeouts? Timeouts { get; init; }

    public HttpRouteRetry? Retry { get; init; }

    public JsonNode? SessionPersistence { get; init; }
}

public sealed record HttpRouteMatch
{
    public HttpPathMatch? Path { get; init; }

    public IReadOnlyList<HttpHeaderMatch> Headers { get; init; } = [];

    public IReadOnlyList<HttpHeaderMatch> QueryParams { get; init; } = [];

    public string? Method { get; init; }
}

public sealed record HttpPathMatch
{
    /// <summary>Exact, PathPrefix (default) or RegularExpression.</summary>
    public string? Type { get; init; }

    /// <summary>Defaults to <c>/</c>.</summary>
    public string? Value { get; init; }
}

/// <summary>A header or query parameter match.</summary>
public sealed record HttpHeaderMatch
{
    /// <summary>Exact (default) or RegularExpression.</summary>
    public string? Type { get; init; }

    public required string Name { get; init; }

    public required string Value { get; init; }
}

public sealed record HttpRouteTimeouts
{
    public string? Request { get; init; }

    public string? BackendRequest { get; init; }
}

public sealed record HttpRouteRetry
{
    public IReadOnlyList<int> Codes { get; init; } = [];

    public int? Attempts { get; init; }

    public string? Backoff { get; init; }
}

public sealed record HttpBackendRef
{
    public string? Group { get; init; }

    /// <summary>Defaults to Service.</summary>
    public string? Kind { get; init; }

    public required string Name { get; init; }

    public string? Namespace { get; init; }

    public int? Port { get; init; }

    /// <summary>Relative share; defaults to 1.</summary>
    public int? Weight { get; init; }

    public IReadOnlyList<HttpRouteFilter> Filters { get; init; } = [];
}

/// <summary>A reference to a backend without weight or filters (mirror targets).</summary>
public sealed record BackendObjectReference
{
    public string? Group { get; init; }

    public string? Kind { get; init; }

    public required string Name { get; init; }

    public string? Namespace { get; init; }

    public int? Port { get; init; }
}
