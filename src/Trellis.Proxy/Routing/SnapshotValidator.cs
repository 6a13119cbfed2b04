using System.Net;
using System.Text.RegularExpressions;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Routing;

/// <summary>
/// Checks a snapshot before anything of it is used and reports every problem, each with the path
/// of the offending field, so that a NACK tells the control plane everything at once.
/// </summary>
internal static class SnapshotValidator
{
    private static readonly HashSet<int> RedirectCodes = [301, 302, 303, 307, 308];

    public static List<string> Validate(ProxySnapshot snapshot)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(snapshot.Version))
        {
            errors.Add("version: must not be empty");
        }

        var clusters = ValidateClusters(snapshot.Clusters ?? [], errors);
        var tables = ValidateRouteTables(snapshot.RouteTables ?? [], clusters, errors);
        ValidateListeners(snapshot.Listeners ?? [], tables, clusters, errors);
        return errors;
    }

    private static HashSet<string> ValidateClusters(IReadOnlyList<ClusterConfig> clusters, List<string> errors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < clusters.Count; i++)
        {
            var cluster = clusters[i];
            var path = $"clusters[{i}]";
            RequireUniqueName(cluster.Name, names, path, "cluster", errors);
            if (!Enum.IsDefined(cluster.LoadBalancer))
            {
                errors.Add($"{path}.loadBalancer: unknown value {(int)cluster.LoadBalancer}");
            }

            if (!Enum.IsDefined(cluster.Protocol))
            {
                errors.Add($"{path}.protocol: unknown value {(int)cluster.Protocol}");
            }

            ServingValidator.ValidateActivation(cluster.Activation, $"{path}.activation", errors);
            PolicyValidator.ValidateCluster(cluster, path, errors);

            var endpoints = cluster.Endpoints ?? [];
            for (var e = 0; e < endpoints.Count; e++)
            {
                var endpoint = endpoints[e];
                if (string.IsNullOrWhiteSpace(endpoint.Address) || Uri.CheckHostName(endpoint.Address) == UriHostNameType.Unknown)
                {
                    errors.Add($"{path}.endpoints[{e}].address: '{endpoint.Address}' is not an IP address or host name");
                }

                if (endpoint.Port is < 1 or > 65535)
                {
                    errors.Add($"{path}.endpoints[{e}].port: {endpoint.Port} is outside 1-65535");
                }
            }
        }

        return names;
    }

    private static HashSet<string> ValidateRouteTables(IReadOnlyList<RouteTableConfig> tables, HashSet<string> clusters, List<string> errors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var t = 0; t < tables.Count; t++)
        {
            var table = tables[t];
            var path = $"routeTables[{t}]";
            RequireUniqueName(table.Name, names, path, "route table", errors);
            var domains = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var hosts = table.VirtualHosts ?? [];
            for (var v = 0; v < hosts.Count; v++)
            {
                var host = hosts[v];
                var hostPath = $"{path}.virtualHosts[{v}]";
                if (host.Domains is null || host.Domains.Count == 0)
                {
                    errors.Add($"{hostPath}.domains: at least one domain is required");
                }

                for (var d = 0; d < (host.Domains?.Count ?? 0); d++)
                {
                    ValidateDomain(host.Domains![d], domains, $"{hostPath}.domains[{d}]", errors);
                }

                var routes = host.Routes ?? [];
                for (var r = 0; r < routes.Count; r++)
                {
                    ValidateRoute(routes[r], clusters, $"{hostPath}.routes[{r}]", errors);
                }
            }
        }

        return names;
    }

    private static void ValidateDomain(string domain, HashSet<string> seen, string path, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(domain))
        {
            errors.Add($"{path}: must not be empty");
            return;
        }

        if (domain.IndexOf('*', 1) >= 0)
        {
            errors.Add($"{path}: '{domain}' may only use '*' as its first character");
        }

        // Envoy rejects a table where two virtual hosts claim one domain: which one wins would be arbitrary.
        if (!seen.Add(domain))
        {
            errors.Add($"{path}: domain '{domain}' appears more than once in the route table");
        }
    }

    private static void ValidateRoute(RouteConfig route, HashSet<string> clusters, string path, List<string> errors)
    {
        var targets = route.Clusters ?? [];
        var answers = (route.Redirect is null ? 0 : 1) + (route.DirectResponse is null ? 0 : 1) + (targets.Count == 0 ? 0 : 1);
        if (answers == 0)
        {
            errors.Add($"{path}: needs clusters, a redirect or a direct response");
        }
        else if (answers > 1)
        {
            errors.Add($"{path}: clusters, redirect and direct response are mutually exclusive");
        }

        long total = 0;
        for (var c = 0; c < targets.Count; c++)
        {
            var target = targets[c];
            if (!clusters.Contains(target.Cluster))
            {
                errors.Add($"{path}.clusters[{c}].cluster: cluster '{target.Cluster}' not found");
            }

            if (target.Weight < 0)
            {
                errors.Add($"{path}.clusters[{c}].weight: {target.Weight} is negative");
            }

            total += Math.Max(0, target.Weight);
            ValidateHeaderOperations(target.RequestHeaders, $"{path}.clusters[{c}].requestHeaders", errors);
            ValidateHeaderOperations(target.ResponseHeaders, $"{path}.clusters[{c}].responseHeaders", errors);
        }

        if (targets.Count > 0 && (total <= 0 || total > int.MaxValue))
        {
            errors.Add($"{path}.clusters: weights must sum to between 1 and {int.MaxValue}, got {total}");
        }

        var matches = route.Matches ?? [];
        for (var m = 0; m < matches.Count; m++)
        {
            ValidateMatch(matches[m], $"{path}.matches[{m}]", errors);
        }

        if (route.Redirect is { } redirect)
        {
            if (!RedirectCodes.Contains(redirect.StatusCode))
            {
                errors.Add($"{path}.redirect.statusCode: {redirect.StatusCode} is not one of 301, 302, 303, 307, 308");
            }

            if (redirect.Port is < 1 or > 65535)
            {
                errors.Add($"{path}.redirect.port: {redirect.Port} is outside 1-65535");
            }

            if (redirect.Scheme is not null and not ("http" or "https"))
            {
                errors.Add($"{path}.redirect.scheme: '{redirect.Scheme}' is not http or https");
            }

            if (redirect.Uri is not null && !redirect.Uri.StartsWith('/'))
            {
                errors.Add($"{path}.redirect.uri: '{redirect.Uri}' must start with '/'");
            }

            if (redirect.PrefixRewrite is not null && (redirect.Uri is not null || !redirect.PrefixRewrite.StartsWith('/')))
            {
                errors.Add($"{path}.redirect.prefixRewrite: '{redirect.PrefixRewrite}' must start with '/' and excludes uri");
            }
        }

        if (route.Rewrite?.UriPrefix is { } prefix && !prefix.StartsWith('/'))
        {
            errors.Add($"{path}.rewrite.uriPrefix: '{prefix}' must start with '/'");
        }

        if (route.Timeout is { } timeout && timeout <= TimeSpan.Zero)
        {
            errors.Add($"{path}.timeout: must be positive");
        }

        ValidateHeaderOperations(route.RequestHeaders, $"{path}.requestHeaders", errors);
        ValidateHeaderOperations(route.ResponseHeaders, $"{path}.responseHeaders", errors);
        PolicyValidator.ValidateRoute(route, clusters, path, errors);
    }

    private static void ValidateMatch(RouteMatchConfig match, string path, List<string> errors)
    {
        ValidateString(match.Uri, match.IgnoreUriCase, $"{path}.uri", allowPresent: false, errors);
        ValidateString(match.Method, false, $"{path}.method", allowPresent: false, errors);
        ValidateString(match.Scheme, false, $"{path}.scheme", allowPresent: false, errors);
        ValidateString(match.Authority, false, $"{path}.authority", allowPresent: false, errors);
        ValidateNamed(match.Headers, $"{path}.headers", errors);
        ValidateNamed(match.WithoutHeaders, $"{path}.withoutHeaders", errors);
        ValidateNamed(match.QueryParams, $"{path}.queryParams", errors);
        if (match.Port is < 1 or > 65535)
        {
            errors.Add($"{path}.port: {match.Port} is outside 1-65535");
        }
    }

    private static void ValidateNamed(IReadOnlyDictionary<string, StringMatchConfig>? conditions, string path, List<string> errors)
    {
        foreach (var (name, match) in conditions ?? new Dictionary<string, StringMatchConfig>())
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                errors.Add($"{path}: a name must not be empty");
            }

            ValidateString(match, false, $"{path}.{name}", allowPresent: true, errors);
        }
    }

    internal static void ValidateString(StringMatchConfig? match, bool ignoreCase, string path, bool allowPresent, List<string> errors)
    {
        if (match is null)
        {
            return;
        }

        if (!Enum.IsDefined(match.Kind) || (match.Kind == StringMatchKind.Present && !allowPresent))
        {
            errors.Add($"{path}: match kind {match.Kind} is not allowed here");
            return;
        }

        if (match.Kind == StringMatchKind.Regex)
        {
            try
            {
                // Parse only (not Compiled): cheap, and the compiler builds the real one after acceptance.
                _ = new Regex(StringMatcher.FullMatchPattern(match.Value ?? string.Empty), StringMatcher.RegexOptionsFor(ignoreCase, compiled: false));
            }
            catch (ArgumentException ex)
            {
                errors.Add($"{path}: regex '{match.Value}' does not compile: {ex.Message}");
            }
        }
        else if (match.Value is null)
        {
            errors.Add($"{path}: value must not be null");
        }
    }

    internal static void ValidateHeaderOperations(HeaderOperationsConfig? operations, string path, List<string> errors)
    {
        var names = (operations?.Set?.Keys ?? []).Concat(operations?.Add?.Keys ?? []).Concat(operations?.Remove ?? []);
        foreach (var name in names)
        {
            if (string.IsNullOrWhiteSpace(name) || name.Any(c => c <= ' ' || c >= 127 || c == ':'))
            {
                errors.Add($"{path}: '{name}' is not a valid header name");
            }
        }
    }

    private static void ValidateListeners(IReadOnlyList<ListenerConfig> listeners, HashSet<string> tables, HashSet<string> clusters, List<string> errors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var bindings = new HashSet<(IPAddress, int)>();
        for (var i = 0; i < listeners.Count; i++)
        {
            var listener = listeners[i];
            var path = $"listeners[{i}]";
            RequireUniqueName(listener.Name, names, path, "listener", errors);
            if (!IPAddress.TryParse(listener.Address, out var address))
            {
                errors.Add($"{path}.address: '{listener.Address}' is not an IP address");
            }

            if (listener.Port is < 0 or > 65535)
            {
                errors.Add($"{path}.port: {listener.Port} is outside 0-65535");
            }
            else if (address is not null && listener.Port != 0 && !bindings.Add((address, listener.Port)))
            {
                errors.Add($"{path}.port: {listener.Address}:{listener.Port} is used by another listener");
            }

            if (listener.Tcp is { } tcp)
            {
                Tcp.TcpValidator.Validate(tcp, clusters, $"{path}.tcp", errors);
            }
            else if (!tables.Contains(listener.RouteTable))
            {
                errors.Add($"{path}.routeTable: route table '{listener.RouteTable}' not found");
            }

            if (listener.Destinations is { } destinations)
            {
                Tcp.TcpValidator.Validate(destinations, clusters, $"{path}.destinations", errors);
            }

            for (var n = 0; n < (listener.ServerNames?.Count ?? 0); n++)
            {
                var serverName = listener.ServerNames![n];
                if (!tables.Contains(serverName.RouteTable))
                {
                    errors.Add($"{path}.serverNames[{n}].routeTable: route table '{serverName.RouteTable}' not found");
                }

                if (string.IsNullOrEmpty(serverName.Hostname) || serverName.Hostname.IndexOf('*', 1) >= 0 || (serverName.Hostname[0] == '*' && !serverName.Hostname.StartsWith("*.", StringComparison.Ordinal)))
                {
                    errors.Add($"{path}.serverNames[{n}].hostname: '{serverName.Hostname}' is not a host name or *.suffix");
                }
            }

            ServingValidator.ValidateInstance(listener.Serving, $"{path}.serving", errors);
            PolicyValidator.ValidateRateLimit(listener.RateLimit, $"{path}.rateLimit", errors);

            if (listener.Protocols is not (HttpProtocols.Http1 or HttpProtocols.Http2 or HttpProtocols.Http1AndHttp2))
            {
                errors.Add($"{path}.protocols: unknown value {(int)listener.Protocols}");
            }

            if (listener.Capture && (listener.Kind != ListenerKind.Outbound || listener.Tls is not null || listener.Tcp is not null || listener.Protocols != HttpProtocols.Http1AndHttp2))
            {
                // A capture listener takes whatever a workload sent anywhere: it sniffs cleartext HTTP/1.1 and h2c, relays the rest.
                errors.Add($"{path}.capture: a capture listener is an outbound one, cleartext, with protocols Http1AndHttp2 and no tcp routes");
            }

            if (!Enum.IsDefined(listener.Kind))
            {
                errors.Add($"{path}.kind: unknown value {(int)listener.Kind}");
            }

            if (listener.Tls is { } tls && Listeners.ListenerTransport.CheckCertificate(tls) is { } problem)
            {
                errors.Add($"{path}.tls: {problem}");
            }
        }
    }

    private static void RequireUniqueName(string name, HashSet<string> seen, string path, string what, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            errors.Add($"{path}.name: must not be empty");
        }
        else if (!seen.Add(name))
        {
            errors.Add($"{path}.name: {what} '{name}' is defined more than once");
        }
    }
}
