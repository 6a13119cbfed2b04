using System.Globalization;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;

namespace Trellis.Cli.Roles;

/// <summary>
/// The "Try:" lines <c>trellis up</c> prints, made from what the ingress gateway really serves (its accepted
/// snapshot): one <c>curl</c> per virtual host of each gateway listener, with the listener's address and port,
/// a Host header when the host is not a catch-all, and the first plain path a route matches.
/// </summary>
public static class GatewayHints
{
    /// <summary>At most this many lines; the rest is counted, not listed.</summary>
    public const int MaxLines = 6;

    public static IReadOnlyList<string> For(ProxySnapshot snapshot)
    {
        var tables = snapshot.RouteTables.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var lines = new List<string>();
        foreach (var listener in snapshot.Listeners.Where(l => l.Kind == ListenerKind.Gateway).OrderBy(l => l.Port))
        {
            var scheme = listener.Tls is null ? "http" : "https";
            var address = listener.Address is "127.0.0.1" or "0.0.0.0" or "::" or "::1" ? "localhost" : listener.Address;
            if (listener.Tcp is { } tcp)
            {
                // A TCP (or TLS passthrough) port relays connections: docs/tcp.md.
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"nc {address} {listener.Port}   ({(tcp.SniPeek ? "TLS passthrough, routed by SNI" : "TCP")})"));
                continue;
            }

            var origin = string.Create(CultureInfo.InvariantCulture, $"{scheme}://{address}:{listener.Port}");
            // The /async-function/ route the compiler adds to every host is a POST entry point, not something to try.
            var vhosts = (tables.TryGetValue(listener.RouteTable, out var table) ? table.VirtualHosts : []).Where(v => v.Name != AsyncFunctionRoutes.RouteName).ToList();
            if (vhosts.Count == 0)
            {
                lines.Add($"{origin}/ (listening; no route bound to it yet)");
            }

            foreach (var vhost in vhosts)
            {
                var host = Host(vhost.Domains);
                var path = vhost.Routes.Where(r => r.Name != AsyncFunctionRoutes.RouteName).Select(Path).FirstOrDefault(p => p is not null) ?? "/";
                lines.Add($"curl {(host is null ? "" : $"-H 'Host: {host}' ")}{origin}{path}");
            }
        }

        var distinct = lines.Distinct(StringComparer.Ordinal).ToList();
        return distinct.Count <= MaxLines
            ? distinct
            : [.. distinct.Take(MaxLines), $"... and {distinct.Count - MaxLines} more (trellis get gw,vs,ksvc,httproutes)"];
    }

    /// <summary>A name a client can send: an exact domain without a port; a wildcard's suffix under a made-up label; none for <c>*</c>.</summary>
    private static string? Host(IReadOnlyList<string> domains)
    {
        var plain = domains.Where(d => d != "*" && !d.Contains(':', StringComparison.Ordinal)).ToList();
        var exact = plain.FirstOrDefault(d => !d.StartsWith('*'));
        if (exact is not null)
        {
            return exact;
        }

        return plain.FirstOrDefault() is { } wildcard ? "www" + wildcard[1..] : null;
    }

    /// <summary>The first exact or prefix path of a route that forwards (a redirect or fixed answer is a poor first try).</summary>
    private static string? Path(RouteConfig route)
    {
        if (route.Clusters.Count == 0)
        {
            return null;
        }

        return route.Matches.Count == 0
            ? "/"
            : route.Matches.Select(m => m.Uri).FirstOrDefault(u => u is { Kind: StringMatchKind.Exact or StringMatchKind.Prefix })?.Value;
    }
}
