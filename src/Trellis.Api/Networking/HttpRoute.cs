namespace Trellis.Api.Networking;

/// <summary>One HTTP rule: the first whose <see cref="Match"/> (any of) matches a request handles it.</summary>
public sealed record HttpRoute
{
    public string? Name { get; init; }

    /// <summary>Conditions OR-ed together; empty matches every request.</summary>
    public IReadOnlyList<HttpMatchRequest> Match { get; init; } = [];

    public IReadOnlyList<HttpRouteDestination> Route { get; init; } = [];

    public HttpRedirect? Redirect { get; init; }

    public HttpDirectResponse? DirectResponse { get; init; }

    public RouteDelegate? Delegate { get; init; }

    public HttpRewrite? Rewrite { get; init; }

    /// <summary>Duration string (see <see cref="Durations"/>); none means no timeout.</summary>
    public string? Timeout { get; init; }

    public HttpRetry? Retries { get; init; }

    public HttpFaultInjection? Fault { get; init; }

    public Destination? Mirror { get; init; }

    public IReadOnlyList<HttpMirrorPolicy> Mirrors { get; init; } = [];

    public Percent? MirrorPercentage { get; init; }

    public CorsPolicy? CorsPolicy { get; init; }

    public Headers? Headers { get; init; }
}

/// <summary>A weighted destination of an HTTP route, with header changes applied only when it is chosen.</summary>
public sealed record HttpRouteDestination
{
    public required Destination Destination { get; init; }

    /// <summary>Share of the traffic in percent; may be omitted when the route has a single destination.</summary>
    public int? Weight { get; init; }

    public Headers? Headers { get; init; }
}

/// <summary>Hands matching to the named VirtualService, whose routes are then evaluated.</summary>
public sealed record RouteDelegate
{
    public string? Name { get; init; }

    public string? Namespace { get; init; }
}
