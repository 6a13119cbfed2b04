namespace Trellis.Proxy.Routing;

/// <summary>
/// What a TLS listener serves by the client's server name (SNI): the route tables of Gateway API listeners
/// (<see cref="Api.Snapshots.ListenerConfig.ServerNames"/>), the certificates of an Istio Gateway port's servers
/// (<see cref="Api.Snapshots.ListenerTlsConfig.ServerNames"/>). An exact hostname first, then the longest <c>*.suffix</c>
/// (any name below the suffix), so that a connection gets what its SNI chose, never another's.
/// </summary>
internal sealed class ServerNameMap<T>(IEnumerable<(string Hostname, T Value)> entries)
    where T : class
{
    private readonly (string Hostname, T Value)[] _entries =
        [.. entries.OrderBy(e => e.Hostname.StartsWith('*') ? 1 : 0).ThenByDescending(e => e.Hostname.Length)];

    /// <summary>The value of <paramref name="serverName"/>; null when no hostname matches it.</summary>
    public T? Find(string serverName)
    {
        foreach (var (hostname, value) in _entries)
        {
            if (hostname.StartsWith('*')
                ? serverName.Length > hostname.Length - 1 && serverName.EndsWith(hostname.AsSpan(1), StringComparison.OrdinalIgnoreCase)
                : string.Equals(serverName, hostname, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        return null;
    }
}
