namespace Trellis.Proxy.Routing;

/// <summary>
/// The route tables of one TLS listener by the client's server name (<see cref="Api.Snapshots.ListenerConfig.ServerNames"/>):
/// an exact hostname first, then the longest <c>*.suffix</c> (any name below the suffix, as the Gateway API's listener
/// hostnames match), so that a connection is served the routes of the listener its SNI chose, never another's.
/// </summary>
internal sealed class ServerNameTables(IEnumerable<(string Hostname, CompiledRouteTable Table)> entries)
{
    private readonly (string Hostname, CompiledRouteTable Table)[] _entries =
        [.. entries.OrderBy(e => e.Hostname.StartsWith('*') ? 1 : 0).ThenByDescending(e => e.Hostname.Length)];

    /// <summary>The table of <paramref name="serverName"/>; null when no hostname matches it.</summary>
    public CompiledRouteTable? Find(string serverName)
    {
        foreach (var (hostname, table) in _entries)
        {
            if (hostname.StartsWith('*')
                ? serverName.Length > hostname.Length - 1 && serverName.EndsWith(hostname.AsSpan(1), StringComparison.OrdinalIgnoreCase)
                : string.Equals(serverName, hostname, StringComparison.OrdinalIgnoreCase))
            {
                return table;
            }
        }

        return null;
    }
}
