namespace Trellis.Api.Networking;

/// <summary>Changes applied to the request before it is forwarded.</summary>
public sealed record HttpRewrite
{
    /// <summary>Replaces the matched prefix (or the whole path for exact matches).</summary>
    public string? Uri { get; init; }

    public string? Authority { get; init; }

    public RegexRewrite? UriRegexRewrite { get; init; }
}

public sealed record RegexRewrite
{
    public string? Match { get; init; }

    public string? Rewrite { get; init; }
}

/// <summary>Answers with a redirect instead of forwarding.</summary>
public sealed record HttpRedirect
{
    public string? Uri { get; init; }

    public string? Authority { get; init; }

    public int? Port { get; init; }

    public RedirectPortSelection? DerivePort { get; init; }

    public string? Scheme { get; init; }

    /// <summary>Defaults to 301.</summary>
    public int? RedirectCode { get; init; }
}

public enum RedirectPortSelection
{
    [System.Text.Json.Serialization.JsonStringEnumMemberName("FROM_PROTOCOL_DEFAULT")]
    FromProtocolDefault,
    [System.Text.Json.Serialization.JsonStringEnumMemberName("FROM_REQUEST_PORT")]
    FromRequestPort,
}

/// <summary>Answers with a fixed status and body instead of forwarding.</summary>
public sealed record HttpDirectResponse
{
    public required int Status { get; init; }

    public HttpBody? Body { get; init; }
}

public sealed record HttpBody
{
    public string? String { get; init; }

    /// <summary>Base64 text, as protobuf JSON writes bytes.</summary>
    public string? Bytes { get; init; }
}
