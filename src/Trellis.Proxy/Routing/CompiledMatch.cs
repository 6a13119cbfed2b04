using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Routing;

/// <summary>
/// One Istio <c>HTTPMatchRequest</c>, compiled: every present condition must hold. Conditions are
/// kept in arrays and checked cheapest first so that a miss costs little and nothing allocates.
/// </summary>
internal sealed class CompiledMatch
{
    private readonly StringMatcher? _uri;
    private readonly StringMatcher? _method;
    private readonly StringMatcher? _authority;
    private readonly NamedMatcher[] _headers;
    private readonly NamedMatcher[] _withoutHeaders;
    private readonly NamedMatcher[] _queryParams;
    private readonly int? _port;

    public CompiledMatch(RouteMatchConfig config, TimeSpan regexTimeout)
    {
        _uri = config.Uri is null ? null : StringMatcher.Create(config.Uri, config.IgnoreUriCase, regexTimeout);
        _method = config.Method is null ? null : StringMatcher.Create(config.Method, ignoreCase: false, regexTimeout);
        _authority = config.Authority is null ? null : StringMatcher.Create(config.Authority, ignoreCase: false, regexTimeout);
        _headers = Compile(config.Headers, regexTimeout);
        _withoutHeaders = Compile(config.WithoutHeaders, regexTimeout);
        _queryParams = Compile(config.QueryParams, regexTimeout);
        _port = config.Port;
    }

    /// <summary>The URI condition, which decides how a prefix rewrite applies; null when the match has none.</summary>
    public StringMatcher? Uri => _uri;

    public bool IsMatch(in RouteRequest request)
    {
        if (_port is int port && request.Port != port)
        {
            return false;
        }

        if (_method is not null && !_method.IsMatch(request.Method))
        {
            return false;
        }

        if (_uri is not null && !_uri.IsMatch(request.Path))
        {
            return false;
        }

        if (_authority is not null && !_authority.IsMatch(request.Authority))
        {
            return false;
        }

        foreach (var header in _headers)
        {
            if (!request.TryGetHeader(header.Name, out var value) || !header.Matcher.IsMatch(value))
            {
                return false;
            }
        }

        // withoutHeaders has the opposite meaning of headers: the request must not carry a matching value.
        foreach (var header in _withoutHeaders)
        {
            if (request.TryGetHeader(header.Name, out var value) && header.Matcher.IsMatch(value))
            {
                return false;
            }
        }

        foreach (var param in _queryParams)
        {
            if (!QueryStringReader.TryGetValue(request.Query, param.Name, out var value) || !param.Matcher.IsMatch(value))
            {
                return false;
            }
        }

        return true;
    }

    private static NamedMatcher[] Compile(IReadOnlyDictionary<string, StringMatchConfig>? conditions, TimeSpan regexTimeout)
    {
        if (conditions is null || conditions.Count == 0)
        {
            return [];
        }

        var result = new NamedMatcher[conditions.Count];
        var i = 0;
        foreach (var (name, match) in conditions)
        {
            result[i++] = new NamedMatcher(name, StringMatcher.Create(match, ignoreCase: false, regexTimeout));
        }

        return result;
    }

    private readonly record struct NamedMatcher(string Name, StringMatcher Matcher);
}
