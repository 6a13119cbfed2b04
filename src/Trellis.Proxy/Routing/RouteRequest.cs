using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Trellis.Proxy.Routing;

/// <summary>
/// The parts of a request that routing looks at, gathered once per request without copying.
/// Unit tests build it directly; the listener builds it from the <see cref="HttpContext"/>.
/// </summary>
internal readonly struct RouteRequest
{
    private readonly IHeaderDictionary? _headers;
    private readonly IRequestHeaderLookup? _lookup;

    public RouteRequest(string method, string authority, string path, string? query, IHeaderDictionary headers, int localPort, string scheme = "http")
        : this(method, authority, path, query, localPort, scheme)
    {
        _headers = headers;
    }

    /// <summary>For the fast HTTP/1.1 path, whose headers stay bytes until a match asks for one.</summary>
    public RouteRequest(string method, string authority, string path, string? query, IRequestHeaderLookup headers, int localPort, string scheme = "http")
        : this(method, authority, path, query, localPort, scheme)
    {
        _lookup = headers;
    }

    private RouteRequest(string method, string authority, string path, string? query, int localPort, string scheme)
    {
        Method = method;
        Scheme = scheme;
        Authority = authority;
        Path = path;
        Query = query;
        LocalPort = localPort;
    }

    public string Method { get; }

    /// <summary>
    /// <c>http</c> or <c>https</c>: whether the client's connection to this proxy is TLS (the fast paths serve cleartext
    /// only). Istio's <c>scheme</c> match reads it.
    /// </summary>
    public string Scheme { get; }

    /// <summary>Host header (HTTP/1.1; the absolute-form target's authority) or :authority (HTTP/2).</summary>
    public string Authority { get; }

    public string Path { get; }

    /// <summary>Raw query string including the leading '?', or null.</summary>
    public string? Query { get; }

    public int LocalPort { get; }

    /// <summary>The server name (SNI) the client sent in its TLS handshake; null for cleartext or none sent.</summary>
    public string? ServerName { get; init; }

    /// <summary>
    /// The port the client addressed: the authority's explicit port (an outbound listener used as
    /// HTTP_PROXY serves many service ports), else the port the connection arrived on.
    /// </summary>
    public int Port
    {
        get
        {
            var colon = AuthorityPortSeparator(Authority);
            return colon >= 0 && int.TryParse(Authority.AsSpan(colon + 1), out var port) ? port : LocalPort;
        }
    }

    /// <summary>Authority without its port, e.g. <c>reviews</c> for <c>reviews:9080</c>.</summary>
    public ReadOnlySpan<char> Host
    {
        get
        {
            var colon = AuthorityPortSeparator(Authority);
            return colon >= 0 ? Authority.AsSpan(0, colon) : Authority.AsSpan();
        }
    }

    public static RouteRequest From(HttpContext context)
    {
        var request = context.Request;
        var host = request.Headers.Host;
        return new RouteRequest(
            request.Method,
            host.Count == 0 ? string.Empty : host[0] ?? string.Empty,
            request.Path.Value ?? "/",
            request.QueryString.Value,
            request.Headers,
            context.Connection.LocalPort,
            request.IsHttps ? "https" : "http")
        {
            ServerName = request.IsHttps && context.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionItemsFeature>()?.Items is { } items
                && items.TryGetValue(Listeners.ListenerTransport.ServerNameItem, out var sni) ? sni as string : null,
        };
    }

    /// <summary>Index of the ':' before the port, or -1; IPv6 literals are bracketed (<c>[::1]:80</c>).</summary>
    internal static int AuthorityPortSeparator(string authority)
    {
        var colon = authority.LastIndexOf(':');
        if (colon < 0 || authority.IndexOf(']', colon) >= 0)
        {
            return -1;
        }

        return authority.StartsWith('[') || authority.IndexOf(':') == colon ? colon : -1;
    }

    /// <summary>The first field named <paramref name="name"/> copied into <paramref name="destination"/>, without allocating; its length, or -1.</summary>
    public int CopyHeader(string name, Span<char> destination)
    {
        if (_lookup is not null)
        {
            return _lookup.CopyHeader(name, destination);
        }

        if (_headers is null || !_headers.TryGetValue(name, out StringValues values) || values.Count == 0 || values[0] is not { } first)
        {
            return -1;
        }

        return first.AsSpan().TryCopyTo(destination) ? first.Length : -1;
    }

    /// <summary>Header value as one string; multiple values join with a comma as on the wire.</summary>
    public bool TryGetHeader(string name, out string value)
    {
        if (_lookup is not null)
        {
            return _lookup.TryGetHeader(name, out value);
        }

        if (_headers is not null && _headers.TryGetValue(name, out StringValues values) && values.Count > 0)
        {
            value = values.Count == 1 ? values[0] ?? string.Empty : values.ToString();
            return true;
        }

        value = string.Empty;
        return false;
    }
}
