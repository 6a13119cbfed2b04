namespace Trellis.Api.GatewayApi;

/// <summary>One filter; <see cref="Type"/> names which of the other fields is set.</summary>
public sealed record HttpRouteFilter
{
    /// <summary>RequestHeaderModifier, ResponseHeaderModifier, RequestMirror, RequestRedirect, URLRewrite, CORS or ExtensionRef.</summary>
    public required string Type { get; init; }

    public HttpHeaderFilter? RequestHeaderModifier { get; init; }

    public HttpHeaderFilter? ResponseHeaderModifier { get; init; }

    public HttpRequestMirrorFilter? RequestMirror { get; init; }

    public HttpRequestRedirectFilter? RequestRedirect { get; init; }

    public HttpUrlRewriteFilter? UrlRewrite { get; init; }

    public HttpCorsFilter? Cors { get; init; }

    public LocalObjectReference? ExtensionRef { get; init; }
}

public sealed record HttpHeaderFilter
{
    public IReadOnlyList<HttpHeader> Set { get; init; } = [];

    public IReadOnlyList<HttpHeader> Add { get; init; } = [];

    public IReadOnlyList<string> Remove { get; init; } = [];
}

public sealed record HttpHeader
{
    public required string Name { get; init; }

    public required string Value { get; init; }
}

public sealed record HttpRequestMirrorFilter
{
    public required BackendObjectReference BackendRef { get; init; }

    public int? Percent { get; init; }

    public Fraction? Fraction { get; init; }
}

public sealed record Fraction
{
    public required int Numerator { get; init; }

    /// <summary>Defaults to 100.</summary>
    public int? Denominator { get; init; }
}

public sealed record HttpRequestRedirectFilter
{
    public string? Scheme { get; init; }

    public string? Hostname { get; init; }

    public HttpPathModifier? Path { get; init; }

    public int? Port { get; init; }

    /// <summary>301 (default), 302, 303, 307 or 308.</summary>
    public int? StatusCode { get; init; }
}

public sealed record HttpUrlRewriteFilter
{
    public string? Hostname { get; init; }

    public HttpPathModifier? Path { get; init; }
}

public sealed record HttpPathModifier
{
    /// <summary>ReplaceFullPath or ReplacePrefixMatch.</summary>
    public required string Type { get; init; }

    public string? ReplaceFullPath { get; init; }

    public string? ReplacePrefixMatch { get; init; }
}

public sealed record HttpCorsFilter
{
    public IReadOnlyList<string> AllowOrigins { get; init; } = [];

    public bool? AllowCredentials { get; init; }

    public IReadOnlyList<string> AllowMethods { get; init; } = [];

    public IReadOnlyList<string> AllowHeaders { get; init; } = [];

    public IReadOnlyList<string> ExposeHeaders { get; init; } = [];

    public int? MaxAge { get; init; }
}

public sealed record LocalObjectReference
{
    public required string Group { get; init; }

    public required string Kind { get; init; }

    public required string Name { get; init; }
}
