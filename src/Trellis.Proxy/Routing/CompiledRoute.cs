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

    public CompiledRoute(RouteConfig config, CompiledMatch[] matches, ClusterState[] clusters, int[] weights)
    {
        Name = config.Name;
        _matches = matches;
        _clusters = clusters;
        _cumulativeWeights = new int[weights.Length];
        for (var i = 0; i < weights.Length; i++)
        {
            _totalWeight += weights[i];
            _cumulativeWeights[i] = _totalWeight;
        }

        Redirect = config.Redirect;
        RewriteUriPrefix = config.Rewrite?.UriPrefix;
        RewriteAuthority = config.Rewrite?.Authority;
        RequestHeaders = HeaderOperations.Create(config.RequestHeaders);
        ResponseHeaders = HeaderOperations.Create(config.ResponseHeaders);
        Timeout = config.Timeout;
    }

    public string Name { get; }

    /// <summary>The destination clusters, in the order of their weights.</summary>
    public ReadOnlySpan<ClusterState> Clusters => _clusters;

    public RedirectConfig? Redirect { get; }

    public string? RewriteUriPrefix { get; }

    public string? RewriteAuthority { get; }

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
    public ClusterState PickCluster(Func<int, int> random)
    {
        if (_clusters.Length == 1)
        {
            return _clusters[0];
        }

        var draw = random(_totalWeight);
        for (var i = 0; i < _cumulativeWeights.Length; i++)
        {
            if (draw < _cumulativeWeights[i])
            {
                return _clusters[i];
            }
        }

        return _clusters[^1];
    }

    /// <summary>
    /// The upstream path. Istio semantics: a prefix match has its matched prefix replaced; an exact
    /// or regex match has the whole path replaced; a match without a URI condition behaves like
    /// prefix <c>/</c> (what Istio generates for Envoy).
    /// </summary>
    public string RewritePath(string path, CompiledMatch? matched)
    {
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
}
