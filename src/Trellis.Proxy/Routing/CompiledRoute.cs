using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;

namespace Trellis.Proxy.Routing;

/// <summary>A route of a compiled snapshot: its matches and what to do with a request that matches.</summary>
internal sealed class CompiledRoute
{
    private readonly CompiledMatch[] _matches;
    private readonly ClusterState[] _clusters;
    // Running sums of the weights: a pick draws r in [0, total) and takes the first sum above r.
    private readonly int[] _cumulativeWeights;
    private readonly int _totalWeight;

    private readonly HeaderOperations?[] _destinationRequestHeaders;
    private readonly HeaderOperations?[] _destinationResponseHeaders;

    /// <param name="destinations">The route's weighted destinations that can be picked (weight above 0), in the order of <paramref name="clusters"/>.</param>
    /// <param name="mirrors">Mirror clusters with their percentages.</param>
    public CompiledRoute(
        RouteConfig config, CompiledMatch[] matches, ClusterState[] clusters, int[] weights, WeightedClusterConfig[]? destinations = null,
        (ClusterState Cluster, double Percentage)[]? mirrors = null, TimeSpan regexTimeout = default)
    {
        Name = config.Name;
        Config = config;
        _matches = matches;
        _clusters = clusters;
        var requestHeaders = HeaderOperations.Create(config.RequestHeaders);
        var responseHeaders = HeaderOperations.Create(config.ResponseHeaders);
        _destinationRequestHeaders = new HeaderOperations?[clusters.Length];
        _destinationResponseHeaders = new HeaderOperations?[clusters.Length];
        for (var i = 0; i < clusters.Length; i++)
        {
            _destinationRequestHeaders[i] = HeaderOperations.Merge(HeaderOperations.Create(destinations?[i].RequestHeaders), requestHeaders);
            _destinationResponseHeaders[i] = HeaderOperations.Merge(HeaderOperations.Create(destinations?[i].ResponseHeaders), responseHeaders);
        }
        _cumulativeWeights = new int[weights.Length];
        for (var i = 0; i < weights.Length; i++)
        {
            _totalWeight += weights[i];
            _cumulativeWeights[i] = _totalWeight;
        }

        Redirect = config.Redirect;
        RewriteUriPrefix = config.Rewrite?.UriPrefix;
        RewriteAuthority = config.Rewrite?.Authority;
        RequestHeaders = requestHeaders;
        ResponseHeaders = responseHeaders;
        Timeout = config.Timeout;
        Fault = config.Fault;
        DirectResponse = config.DirectResponse;
        Mirrors = mirrors ?? [];
        UriRegexRewrite = config.Rewrite?.UriRegex is { } regex
            ? (new System.Text.RegularExpressions.Regex(regex.Match, System.Text.RegularExpressions.RegexOptions.CultureInvariant, regexTimeout == default ? TimeSpan.FromMilliseconds(50) : regexTimeout), ToNetSubstitution(regex.Rewrite))
            : null;
        // What the fast paths cannot do themselves: speak HTTP/2 to an upstream. The one place that decides it.
        NeedsKestrel = clusters.Any(c => c.Protocol == UpstreamProtocol.Http2) || Mirrors.Any(m => m.Cluster.Protocol == UpstreamProtocol.Http2);
    }

    public string Name { get; }

    /// <summary>The configuration the route was compiled from (route explain shows its policy as written).</summary>
    public RouteConfig Config { get; }

    /// <summary>
    /// True when a request on this route must take the Kestrel path (an HTTP/2 upstream): the one rule by which the
    /// fast paths hand a request (HTTP/1.1) or a connection (HTTP/2, see <see cref="CompiledRouteTable.NeedsKestrel"/>) over.
    /// </summary>
    public bool NeedsKestrel { get; }

    public FaultConfig? Fault { get; }

    /// <summary>The retry policy; null when the route never retries.</summary>
    public Resilience.RetryPolicy? Retry { get; init; }

    /// <summary>How long to wait before each retry; set with <see cref="Retry"/>.</summary>
    public Resilience.RetryBackoff? Backoff { get; init; }

    /// <summary>CORS; null when the route has no policy.</summary>
    public Resilience.CorsPolicy? Cors { get; init; }

    /// <summary>The route's own token bucket (on top of its listener's); null when it has none.</summary>
    public Resilience.TokenBucket? RateLimit { get; init; }

    /// <summary>Identifies the route across snapshots (table, virtual host, route name), so that an unchanged bucket keeps its tokens.</summary>
    public string BucketKey { get; init; } = string.Empty;

    public DirectResponseConfig? DirectResponse { get; }

    /// <summary>Mirror clusters and the share of requests each gets.</summary>
    public (ClusterState Cluster, double Percentage)[] Mirrors { get; }

    /// <summary>Istio <c>uriRegexRewrite</c>, compiled: the pattern and its .NET substitution.</summary>
    public (System.Text.RegularExpressions.Regex Pattern, string Substitution)? UriRegexRewrite { get; }

    /// <summary>The request header operations when <paramref name="destination"/> is picked: its own, then the route's.</summary>
    public HeaderOperations? RequestHeadersFor(int destination) => _destinationRequestHeaders[destination];

    /// <summary>The response header operations when <paramref name="destination"/> is picked: its own, then the route's.</summary>
    public HeaderOperations? ResponseHeadersFor(int destination) => _destinationResponseHeaders[destination];

    /// <summary>The destination clusters, in the order of their weights.</summary>
    public ReadOnlySpan<ClusterState> Clusters => _clusters;

    public RedirectConfig? Redirect { get; }

    public string? RewriteUriPrefix { get; }

    public string? RewriteAuthority { get; }

    /// <summary>The Host an upstream request carries for a client that asked for <paramref name="requested"/>: the route's authority rewrite, else the same.</summary>
    public string UpstreamAuthority(string requested) => RewriteAuthority ?? requested;

    public HeaderOperations? RequestHeaders { get; }

    public HeaderOperations? ResponseHeaders { get; }

    public TimeSpan? Timeout { get; }

    /// <summary>
    /// True when any match holds (or there are none). <paramref name="matched"/> is the match that
    /// held, needed later to apply a prefix rewrite to the right prefix.
    /// </summary>
    public bool TryMatch(in RouteRequest request, out CompiledMatch? matched)
    {
        matched = null;
        if (_matches.Length == 0)
        {
            return true;
        }

        foreach (var match in _matches)
        {
            if (match.IsMatch(request))
            {
                matched = match;
                return true;
            }
        }

        return false;
    }

    /// <summary>Weighted pick of the destination cluster; <paramref name="random"/> returns [0, max).</summary>
    public ClusterState PickCluster(Func<int, int> random) => _clusters[PickDestination(random)];

    /// <summary>Weighted pick of a destination, as its index into <see cref="Clusters"/>.</summary>
    public int PickDestination(Func<int, int> random)
    {
        if (_clusters.Length == 1)
        {
            return 0;
        }

        var draw = random(_totalWeight);
        for (var i = 0; i < _cumulativeWeights.Length; i++)
        {
            if (draw < _cumulativeWeights[i])
            {
                return i;
            }
        }

        return _clusters.Length - 1;
    }

    /// <summary>
    /// The upstream path. Istio semantics: a prefix match has its matched prefix replaced; an exact
    /// or regex match has the whole path replaced; a match without a URI condition behaves like
    /// prefix <c>/</c> (what Istio generates for Envoy).
    /// </summary>
    public string RewritePath(string path, CompiledMatch? matched)
    {
        if (UriRegexRewrite is { } regex)
        {
            try
            {
                return regex.Pattern.Replace(path, regex.Substitution);
            }
            catch (System.Text.RegularExpressions.RegexMatchTimeoutException)
            {
                return path; // a pathological path against the pattern: forwarded as it came, as a timed-out match is no match
            }
        }

        if (RewriteUriPrefix is null)
        {
            return path;
        }

        var uri = matched?.Uri;
        if (uri is null)
        {
            return path.Length > 0 && path[0] == '/' ? string.Concat(RewriteUriPrefix, path.AsSpan(1)) : RewriteUriPrefix + path;
        }

        return uri.Kind == StringMatchKind.Prefix
            ? string.Concat(RewriteUriPrefix, path.AsSpan(uri.PrefixLength))
            : RewriteUriPrefix;
    }

    /// <summary>Whether the upstream path differs from the client's: a prefix or regex rewrite.</summary>
    public bool RewritesPath => RewriteUriPrefix is not null || UriRegexRewrite is not null;

    /// <summary>RE2's <c>\1</c> group references (Envoy's substitution syntax) as .NET's <c>${1}</c>; a literal <c>$</c> escaped.</summary>
    internal static string ToNetSubstitution(string rewrite)
    {
        var result = new System.Text.StringBuilder(rewrite.Length + 8);
        for (var i = 0; i < rewrite.Length; i++)
        {
            var c = rewrite[i];
            if (c == '\\' && i + 1 < rewrite.Length && char.IsAsciiDigit(rewrite[i + 1]))
            {
                result.Append("${").Append(rewrite[i + 1]).Append('}');
                i++;
            }
            else if (c == '$')
            {
                result.Append("$$");
            }
            else
            {
                result.Append(c);
            }
        }

        return result.ToString();
    }
}
