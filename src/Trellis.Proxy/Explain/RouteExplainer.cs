using System.Globalization;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Explain;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Explain;

/// <summary>
/// <c>trellis route explain</c>'s answer, computed from the compiled snapshot a proxy is serving: the listener, the
/// virtual host, each route in order with why it did or did not match, and for the route that matched its policy and
/// destinations with their endpoints. A pure function of (snapshot, request): the verdicts are the routing code's own
/// (<see cref="CompiledRouteTable.FindVirtualHost"/>, <see cref="CompiledRoute.TryMatch"/>), and the reasons come from
/// the same <see cref="CompiledMatch"/> conditions (<see cref="CompiledMatch.FirstMiss"/>), so explanation and routing
/// cannot disagree.
/// </summary>
internal static class RouteExplainer
{
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    public static RouteExplanation Explain(CompiledSnapshot snapshot, ExplainRequest request, string proxy)
    {
        if (!Uri.TryCreate(request.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            return Failed(proxy, $"\"{request.Url}\" is not an absolute http or https URL");
        }

        var listeners = snapshot.Source.Listeners ?? [];
        var listener = request.Listener is { } name
            ? listeners.FirstOrDefault(l => l.Name == name)
            : listeners.FirstOrDefault(l => l.Port == url.Port && l.Kind == ListenerKind.Gateway);
        if (listener is null || !snapshot.RouteTablesByListener.TryGetValue(listener.Name, out var table))
        {
            var wanted = request.Listener is null ? $"no gateway listener on port {url.Port}" : $"no listener \"{request.Listener}\"";
            return Failed(proxy, $"{wanted}; this proxy has: {string.Join(", ", listeners.Select(l => $"{l.Name} (:{l.Port})"))}");
        }

        IHeaderDictionary headers = new HeaderDictionary();
        foreach (var (key, value) in request.Headers)
        {
            headers.Append(key, value);
        }

        var authority = headers.Host.Count > 0 ? headers.Host[0] ?? url.Authority : url.Authority;
        var path = url.AbsolutePath;
        var query = url.Query.Length > 0 ? url.Query : null;
        var method = request.Method.ToUpperInvariant();
        var routeRequest = new RouteRequest(method, authority, path, query, headers, listener.Port, url.Scheme);
        var result = new RouteExplanation(
            "no-virtual-host", proxy, snapshot.Source.Version, listener.Name, listener.Kind, method, authority, path, query, ListenerRateLimit: listener.RateLimit);

        var host = table.FindVirtualHost(routeRequest.Authority, routeRequest.Host);
        var hostConfig = host is null ? null : HostConfig(snapshot.Source, table.Name, host);
        if (host is null || hostConfig is null)
        {
            return result;
        }

        var rules = new List<RuleExplanation>();
        for (var i = 0; i < host.Routes.Length; i++)
        {
            var route = host.Routes[i];
            var config = hostConfig.Routes[i];
            var matched = route.TryMatch(routeRequest, out _);
            rules.Add(new RuleExplanation(route.Name, matched, Reason(config, routeRequest, matched)));
            if (matched)
            {
                var outcome = config.Redirect is not null ? "redirect" : config.DirectResponse is not null ? "direct-response" : "forward";
                return result with
                {
                    Outcome = outcome,
                    VirtualHost = host.Name,
                    Rules = rules,
                    Route = config,
                    Destinations = outcome == "forward" ? Destinations(snapshot, config) : [],
                };
            }
        }

        return result with { Outcome = "no-route", VirtualHost = host.Name, Rules = rules };
    }

    /// <summary>The virtual host's configuration: the compiled table keeps the snapshot's order of hosts and routes.</summary>
    private static VirtualHostConfig? HostConfig(ProxySnapshot source, string table, CompiledVirtualHost host) =>
        (source.RouteTables ?? []).FirstOrDefault(t => t.Name == table)?.VirtualHosts
            .FirstOrDefault(v => v.Name == host.Name && (v.Routes?.Count ?? 0) == host.Routes.Length);

    private static string Reason(RouteConfig route, in RouteRequest request, bool matched)
    {
        var matches = route.Matches ?? [];
        if (matches.Count == 0)
        {
            return "no match conditions: every request matches";
        }

        var misses = new List<string>();
        for (var m = 0; m < matches.Count; m++)
        {
            var miss = new CompiledMatch(matches[m], RegexTimeout).FirstMiss(request);
            if (miss.Condition == MatchCondition.None)
            {
                return $"match[{m}] holds: {Describe(matches[m])}";
            }

            misses.Add($"match[{m}]: {Miss(matches[m], miss, request)}");
        }

        return matched ? "matched" : string.Join("; ", misses);
    }

    private static string Miss(RouteMatchConfig match, MatchMiss miss, in RouteRequest request)
    {
        switch (miss.Condition)
        {
            case MatchCondition.Port:
                return string.Create(CultureInfo.InvariantCulture, $"port {match.Port} wanted, the request is for {request.Port}");
            case MatchCondition.Method:
                return $"method {Describe(match.Method!)} does not match {request.Method}";
            case MatchCondition.Scheme:
                return $"scheme {Describe(match.Scheme!)} does not match {request.Scheme}";
            case MatchCondition.Uri:
                return $"uri {Describe(match.Uri!)}{(match.IgnoreUriCase ? " (any case)" : "")} does not match \"{request.Path}\"";
            case MatchCondition.Authority:
                return $"authority {Describe(match.Authority!)} does not match \"{request.Authority}\"";
            case MatchCondition.Header:
                return request.TryGetHeader(miss.Name!, out var value)
                    ? $"header {miss.Name} {Describe(match.Headers![miss.Name!])} does not match \"{value}\""
                    : $"header {miss.Name} is absent";
            case MatchCondition.WithoutHeader:
                return $"header {miss.Name} must not be {Describe(match.WithoutHeaders![miss.Name!])}, and is";
            case MatchCondition.QueryParam:
                return QueryStringReader.TryGetValue(request.Query, miss.Name!, out var param)
                    ? $"query parameter {miss.Name} {Describe(match.QueryParams![miss.Name!])} does not match \"{param}\""
                    : $"query parameter {miss.Name} is absent";
            default:
                return "does not match";
        }
    }

    private static string Describe(RouteMatchConfig match)
    {
        var parts = new List<string>();
        if (match.Uri is { } uri)
        {
            parts.Add("uri " + Describe(uri));
        }

        if (match.Method is { } method)
        {
            parts.Add("method " + Describe(method));
        }

        if (match.Authority is { } authority)
        {
            parts.Add("authority " + Describe(authority));
        }

        if (match.Scheme is { } scheme)
        {
            parts.Add("scheme " + Describe(scheme));
        }

        parts.AddRange((match.Headers ?? new Dictionary<string, StringMatchConfig>()).Select(h => $"header {h.Key} {Describe(h.Value)}"));
        parts.AddRange((match.WithoutHeaders ?? new Dictionary<string, StringMatchConfig>()).Select(h => $"without header {h.Key} {Describe(h.Value)}"));
        parts.AddRange((match.QueryParams ?? new Dictionary<string, StringMatchConfig>()).Select(q => $"query parameter {q.Key} {Describe(q.Value)}"));
        return parts.Count == 0 ? "no conditions" : string.Join(", ", parts);
    }

    private static string Describe(StringMatchConfig match) => match.Kind switch
    {
        StringMatchKind.Present => "present",
        StringMatchKind.Exact => $"exact \"{match.Value}\"",
        StringMatchKind.Prefix => $"prefix \"{match.Value}\"",
        _ => $"regex \"{match.Value}\"",
    };

    private static List<DestinationExplanation> Destinations(CompiledSnapshot snapshot, RouteConfig route)
    {
        var targets = (route.Clusters ?? []).Where(c => c.Weight > 0).ToList();
        var total = targets.Sum(c => (double)c.Weight);
        var result = new List<DestinationExplanation>();
        foreach (var target in targets)
        {
            var config = (snapshot.Source.Clusters ?? []).FirstOrDefault(c => c.Name == target.Cluster);
            snapshot.Clusters.TryGetValue(target.Cluster, out var state);
            var endpoints = Endpoints(config, state);
            result.Add(new DestinationExplanation(target.Cluster, target.Weight, Math.Round(100 * target.Weight / total, 2), config is null ? null : config with { Endpoints = [] }, endpoints));
        }

        return result;
    }

    /// <summary>Every cluster whose name ends with <paramref name="host"/> (all when null), with its endpoints now.</summary>
    public static IReadOnlyList<ClusterStatus> Clusters(CompiledSnapshot snapshot, string? host)
    {
        var result = new List<ClusterStatus>();
        foreach (var config in snapshot.Source.Clusters ?? [])
        {
            if (host is null || config.Name == host || config.Name.EndsWith("|" + host, StringComparison.Ordinal))
            {
                snapshot.Clusters.TryGetValue(config.Name, out var state);
                result.Add(new ClusterStatus(config.Name, Endpoints(config, state)));
            }
        }

        return result;
    }

    private static List<EndpointExplanation> Endpoints(ClusterConfig? config, LoadBalancing.ClusterState? state)
    {
        var endpoints = new List<EndpointExplanation>();
        foreach (var endpoint in state?.Endpoints ?? [])
        {
            var labels = config?.Endpoints?.FirstOrDefault(e => e.Port == endpoint.Port && e.Address == endpoint.Address)?.Labels;
            endpoints.Add(new EndpointExplanation(endpoint.Address, endpoint.Port, labels, endpoint.ActiveRequests, state?.Outlier is { } detector ? Outlier(detector.Status(endpoint)) : null));
        }

        return endpoints;
    }

    /// <summary>The endpoint's outlier state as the cluster's detector reports it (when an ejection ends is its to say).</summary>
    private static OutlierStateView Outlier(Resilience.OutlierStatus status) =>
        new(status.Ejected, status.EjectedUntil, status.TimesEjected, status.Consecutive5xx, status.ConsecutiveGatewayErrors, status.ConsecutiveLocalOriginFailures);

    private static RouteExplanation Failed(string proxy, string error) => new("error", proxy, Error: error);
}
