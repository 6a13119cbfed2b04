using System.Collections.Frozen;

namespace Trellis.Proxy.Routing;

/// <summary>
/// A route table ready for lookups. Virtual host selection follows Envoy: exact domain, then the
/// longest suffix wildcard, then <c>*</c>; the full authority (<c>host:port</c>) is tried before the
/// host alone so that port-qualified domains win over plain ones.
/// </summary>
internal sealed class CompiledRouteTable
{
    private readonly FrozenDictionary<string, CompiledVirtualHost>.AlternateLookup<ReadOnlySpan<char>> _exact;
    // Suffixes without their '*', longest first, so the first hit is the most specific.
    private readonly (string Suffix, CompiledVirtualHost Host)[] _suffixes;
    private readonly CompiledVirtualHost? _catchAll;

    public CompiledRouteTable(string name, IReadOnlyList<(string Domain, CompiledVirtualHost Host)> domains)
    {
        Name = name;
        VirtualHosts = [.. domains.Select(d => d.Host).Distinct()];
        var exact = new Dictionary<string, CompiledVirtualHost>(StringComparer.OrdinalIgnoreCase);
        var suffixes = new List<(string, CompiledVirtualHost)>();
        foreach (var (domain, host) in domains)
        {
            if (domain == "*")
            {
                _catchAll = host;
            }
            else if (domain.StartsWith('*'))
            {
                suffixes.Add((domain[1..], host));
            }
            else
            {
                exact[domain] = host;
            }
        }

        _exact = exact.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase).GetAlternateLookup<ReadOnlySpan<char>>();
        NeedsKestrel = VirtualHosts.Any(h => h.Routes.Any(r => r.NeedsKestrel));
        _suffixes = [.. suffixes.OrderByDescending(s => s.Item1.Length)];
    }

    public string Name { get; }

    /// <summary>Every virtual host of the table, each once.</summary>
    public CompiledVirtualHost[] VirtualHosts { get; }

    /// <summary>Some route needs the Kestrel path (<see cref="CompiledRoute.NeedsKestrel"/>).</summary>
    public bool NeedsKestrel { get; }

    public RouteMatch Match(in RouteRequest request)
    {
        var host = FindVirtualHost(request.Authority, request.Host);
        if (host is null)
        {
            return default;
        }

        foreach (var route in host.Routes)
        {
            if (route.TryMatch(request, out var matched))
            {
                return new RouteMatch(host, route, matched);
            }
        }

        return new RouteMatch(host, null, null);
    }

    public CompiledVirtualHost? FindVirtualHost(ReadOnlySpan<char> authority, ReadOnlySpan<char> host)
    {
        if (_exact.TryGetValue(authority, out var found) || _exact.TryGetValue(host, out found))
        {
            return found;
        }

        return MatchSuffix(authority) ?? MatchSuffix(host) ?? _catchAll;
    }

    private CompiledVirtualHost? MatchSuffix(ReadOnlySpan<char> name)
    {
        foreach (var (suffix, host) in _suffixes)
        {
            // The wildcard stands for at least one character, as in Envoy.
            if (name.Length > suffix.Length && name.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                return host;
            }
        }

        return null;
    }
}
