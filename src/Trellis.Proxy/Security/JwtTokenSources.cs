using System.Net;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Security;

/// <summary>
/// Where one JWT rule looks for a token (Istio's <c>fromHeaders</c>, <c>fromParams</c>, <c>fromCookies</c>), and where
/// it looks when none is given: <c>Authorization: Bearer</c> and the <c>access_token</c> query parameter, as Istio.
/// </summary>
internal sealed class JwtTokenSources
{
    private static readonly JwtHeaderSource[] DefaultHeaders = [new("Authorization", "Bearer ")];
    private static readonly string[] DefaultParams = ["access_token"];

    private readonly JwtHeaderSource[] _headers;
    private readonly string[] _params;
    private readonly string[] _cookies;

    public JwtTokenSources(JwtProviderConfig config)
    {
        var none = config.FromHeaders.Count == 0 && config.FromParams.Count == 0 && config.FromCookies.Count == 0;
        _headers = none ? DefaultHeaders : [.. config.FromHeaders];
        _params = none ? DefaultParams : [.. config.FromParams];
        _cookies = [.. config.FromCookies];
    }

    /// <summary>The header a token came from, when it came from one: the header removed upstream unless forwarded.</summary>
    public IReadOnlyList<JwtHeaderSource> Headers => _headers;

    /// <summary>
    /// The first token found, in the order headers, query parameters, cookies (Envoy's extractor order); null when none.
    /// A header whose value lacks the prefix carries no token. <paramref name="header"/> names the header it came from.
    /// </summary>
    public string? Find(in RouteRequest request, out string? header)
    {
        header = null;
        foreach (var source in _headers)
        {
            if (request.TryGetHeader(source.Name, out var value) && Strip(value, source.Prefix) is { Length: > 0 } token)
            {
                header = source.Name;
                return token;
            }
        }

        if (_params.Length > 0 && request.Query is { Length: > 1 } query)
        {
            foreach (var name in _params)
            {
                if (Parameter(query.AsSpan(1), name) is { Length: > 0 } token)
                {
                    return token;
                }
            }
        }

        if (_cookies.Length > 0 && request.TryGetHeader("cookie", out var cookies))
        {
            foreach (var name in _cookies)
            {
                if (Cookie(cookies, name) is { Length: > 0 } token)
                {
                    return token;
                }
            }
        }

        return null;
    }

    /// <summary>The value after <paramref name="prefix"/> (compared without case, as Envoy's <c>value_prefix</c> for Bearer), trimmed.</summary>
    private static string? Strip(string value, string prefix)
    {
        var span = value.AsSpan().Trim();
        if (prefix.Length > 0)
        {
            if (!span.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }

            span = span[prefix.Length..].Trim();
        }

        // Several comma-joined values of the header: the first one is the token (Envoy reads the first value).
        var comma = span.IndexOf(',');
        return (comma < 0 ? span : span[..comma].Trim()).ToString();
    }

    private static string? Parameter(ReadOnlySpan<char> query, string name)
    {
        foreach (var range in query.Split('&'))
        {
            var pair = query[range];
            var equals = pair.IndexOf('=');
            if (equals > 0 && pair[..equals].SequenceEqual(name))
            {
                return WebUtility.UrlDecode(pair[(equals + 1)..].ToString());
            }
        }

        return null;
    }

    private static string? Cookie(string header, string name)
    {
        var cookies = header.AsSpan();
        foreach (var range in cookies.Split(';'))
        {
            var pair = cookies[range].Trim();
            var equals = pair.IndexOf('=');
            if (equals > 0 && pair[..equals].Trim().SequenceEqual(name))
            {
                return pair[(equals + 1)..].Trim().Trim('"').ToString();
            }
        }

        return null;
    }
}
