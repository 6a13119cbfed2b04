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
    private readonly StringMatcher? _scheme;

    public CompiledMatch(RouteMatchConfig config, TimeSpan regexTimeout)
    {
        _uri = config.Uri is null ? null : StringMatcher.Create(config.Uri, config.IgnoreUriCase, regexTimeout);
        _method = config.Method is null ? null : StringMatcher.Create(config.Method, ignoreCase: false, regexTimeout);
        _scheme = config.Scheme is null ? null : StringMatcher.Create(config.Scheme, ignoreCase: false, regexTimeout);
        _authority = config.Authority is null ? null : StringMatcher.Create(config.Authority, ignoreCase: false, regexTimeout);
        _headers = Compile(config.Headers, regexTimeout);
        _withoutHeaders = Compile(config.WithoutHeaders, regexTimeout);
        _queryParams = Compile(config.QueryParams, regexTimeout);
        _port = config.Port;
    }

    /// <summary>The URI condition, which decides how a prefix rewrite applies; null when the match has none.</summary>
    public StringMatcher? Uri => _uri;

    public bool IsMatch(in RouteRequest request) => FirstMiss(request).Condition == MatchCondition.None;

    /// <summary>
    /// The first condition the request fails, in the order they are checked; <see cref="MatchCondition.None"/> when all
    /// hold. Routing asks only whether it matched; route explain says why not, from this same check.
    /// </summary>
    public MatchMiss FirstMiss(in RouteRequest request)
    {
        if (_port is int port && request.Port != port)
        {
            return new(MatchCondition.Port);
        }

        if (_method is not null && !_method.IsMatch(request.Method))
        {
            return new(MatchCondition.Method);
        }

        if (_scheme is not null && !_scheme.IsMatch(request.Scheme))
        {
            return new(MatchCondition.Scheme);
        }

        if (_uri is not null && !_uri.IsMatch(request.Path))
        {
            return new(MatchCondition.Uri);
        }

        if (_authority is not null && !_authority.IsMatch(request.Authority))
        {
            return new(MatchCondition.Authority);
        }

        foreach (var header in _headers)
        {
            if (!request.TryGetHeader(header.Name, out var value) || !header.Matcher.IsMatch(value))
            {
                return new(MatchCondition.Header, header.Name);
            }
        }

        // withoutHeaders has the opposite meaning of headers: the request must not carry a matching value.
        foreach (var header in _withoutHeaders)
        {
            if (request.TryGetHeader(header.Name, out var value) && header.Matcher.IsMatch(value))
            {
                return new(MatchCondition.WithoutHeader, header.Name);
            }
        }

        foreach (var param in _queryParams)
        {
            if (!QueryStringReader.TryGetValue(request.Query, param.Name, out var value) || !param.Matcher.IsMatch(value))
            {
                return new(MatchCondition.QueryParam, param.Name);
            }
        }

        return default;
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

/// <summary>A condition of an Istio <c>HTTPMatchRequest</c>, as <see cref="CompiledMatch.FirstMiss"/> reports the one that failed.</summary>
internal enum MatchCondition
{
    None,
    Port,
    Method,
    Uri,
    Authority,
    Header,
    WithoutHeader,
    QueryParam,
    Scheme,
}

/// <summary>The failed condition and, for headers and query parameters, the name it was about.</summary>
internal readonly record struct MatchMiss(MatchCondition Condition, string? Name = null);
