using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests.GatewayApi;

/// <summary>
/// Compares a captured exchange with an <see cref="Expectation"/> the way upstream's <c>http.CompareRoundTrip</c>
/// does; returns what differs, or null.
/// </summary>
public static class ExpectationCheck
{
    public static string? Compare(Expectation expected, Captured actual, int gatewayPort)
    {
        if (expected.Statuses is { } statuses ? !statuses.Contains(actual.Status) : actual.Status != expected.Status)
        {
            return $"status {actual.Status}, expected {(expected.Statuses is { } s ? string.Join(" or ", s) : expected.Status)}";
        }

        if (actual.Status is >= 300 and < 400 && expected.Redirect is { } redirect)
        {
            if (actual.Location is not { } location)
            {
                return "redirect without a Location";
            }

            var wantHost = redirect.Host ?? location.Host;
            var wantScheme = redirect.Scheme ?? "http";
            var wantPort = redirect.Port ?? (gatewayPort == 80 ? "" : gatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var wantPath = redirect.Path ?? expected.Request.Path.Split('?')[0];
            var port = WrittenPort(location.OriginalString);
            if (location.Scheme != wantScheme || location.Host != wantHost || port != wantPort || location.AbsolutePath != wantPath)
            {
                return $"redirect to {location}, expected scheme {wantScheme} host {wantHost} port '{wantPort}' path {wantPath}";
            }
        }

        foreach (var (name, value) in expected.ResponseHeaders ?? new Dictionary<string, string>())
        {
            if (!actual.Headers.TryGetValue(name, out var got) || got != value)
            {
                return $"response header {name}: '{got}', expected '{value}'";
            }
        }

        foreach (var (name, values) in expected.ValidResponseHeaders ?? new Dictionary<string, string[]>())
        {
            if (!actual.Headers.TryGetValue(name, out var got) || !values.Any(v => NoSpaces(v) == NoSpaces(got)))
            {
                return $"response header {name}: '{got}', expected one of '{string.Join("', '", values)}'";
            }
        }

        foreach (var name in expected.AbsentResponseHeaders ?? [])
        {
            if (actual.Headers.ContainsKey(name))
            {
                return $"response header {name} should be absent";
            }
        }

        if (actual.Status != 200 || expected.Request.Method == "OPTIONS" || (expected.Backend is null && expected.Namespace is null && expected.Upstream is null))
        {
            return null;
        }

        if (actual.Echo is not { } echo)
        {
            return "the answer is not the echo backend's JSON";
        }

        var upstream = expected.Upstream ?? new ExpectedUpstream();
        var path = upstream.Path ?? expected.Request.Path;
        if ((string?)echo["path"] != path)
        {
            return $"backend got path {(string?)echo["path"]}, expected {path}";
        }

        if (upstream.Host is { } host && (string?)echo["host"] != host)
        {
            return $"backend got host {(string?)echo["host"]}, expected {host}";
        }

        var headers = (echo["headers"] as JsonObject ?? []).ToDictionary(
            kv => kv.Key.ToLowerInvariant(),
            kv => string.Join(",", (kv.Value as JsonArray ?? []).Select(v => (string?)v)));
        foreach (var (name, value) in (expected.Upstream is null ? expected.Request.Headers : upstream.Headers) ?? new Dictionary<string, string>())
        {
            if (!headers.TryGetValue(name.ToLowerInvariant(), out var got) || got != value)
            {
                return $"backend got header {name}: '{got}', expected '{value}'";
            }
        }

        foreach (var name in upstream.AbsentHeaders ?? [])
        {
            if (headers.ContainsKey(name.ToLowerInvariant()))
            {
                return $"backend got header {name}, which should be absent";
            }
        }

        if (expected.Namespace is { } ns && (string?)echo["namespace"] != ns)
        {
            return $"answered from namespace {(string?)echo["namespace"]}, expected {ns}";
        }

        if (expected.Backend is { } backend && ((string?)echo["pod"])?.StartsWith(backend + "-", StringComparison.Ordinal) != true)
        {
            return $"answered by pod {(string?)echo["pod"]}, expected backend {backend}";
        }

        return null;
    }

    private static string NoSpaces(string value) => string.Concat(value.Where(c => !char.IsWhiteSpace(c)));

    /// <summary>The port as the Location writes it ("" when it writes none), as Go's <c>url.Port()</c>.</summary>
    private static string WrittenPort(string location)
    {
        var start = location.IndexOf("://", StringComparison.Ordinal) + 3;
        var end = location.IndexOfAny(['/', '?'], start);
        var authority = end < 0 ? location[start..] : location[start..end];
        var colon = authority.LastIndexOf(':');
        return colon < 0 || authority.EndsWith(']') ? "" : authority[(colon + 1)..];
    }
}
