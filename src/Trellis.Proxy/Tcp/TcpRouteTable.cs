using System.Net;
using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Security;

namespace Trellis.Proxy.Tcp;

/// <summary>
/// The TCP routes of one listener in one compiled snapshot (<see cref="TcpProxyConfig"/>): what a new connection matches
/// on (the address it came to, the client's address, the TLS server name) and the clusters it may go to by weight.
/// Immutable; a connection reads it once when it arrives.
/// </summary>
internal sealed class TcpRouteTable
{
    private readonly TcpRoute[] _routes;

    private static readonly Microsoft.AspNetCore.Http.HeaderDictionary NoHeaders = new();

    private readonly int _destinationPort;

    private TcpRouteTable(
        TcpRoute[] routes, bool sniPeek, OriginalDestinationConfig? original, string? identity, PeerAuthenticationMode inboundMtls, AuthorizationPolicies? authorization, int destinationPort)
    {
        _routes = routes;
        Authorization = authorization;
        _destinationPort = destinationPort;
        Original = original;
        SniPeek = sniPeek;
        Identity = identity;
        InboundMtls = inboundMtls;
    }

    /// <summary>
    /// The SPIFFE ID of the listener's workload: what an outbound or gateway relay speaks mesh mTLS as (auto mTLS,
    /// ISTIO_MUTUAL), and the certificate an inbound relay presents; null for a listener without one (cleartext only).
    /// </summary>
    public string? Identity { get; }

    /// <summary>
    /// What an inbound relay accepts from peers (its PeerAuthentication): STRICT takes mesh mTLS only, PERMISSIVE mesh mTLS
    /// and anything else, DISABLE anything without looking (also every outbound and gateway relay). An inbound relay
    /// without an identity cannot terminate mTLS: under STRICT it takes nothing.
    /// </summary>
    public PeerAuthenticationMode InboundMtls { get; }

    /// <summary>An inbound or gateway relay's AuthorizationPolicies, read as Istio reads them for TCP; null when none selects the workload.</summary>
    public AuthorizationPolicies? Authorization { get; }

    /// <summary>
    /// Whether AuthorizationPolicy lets a connection in: from <paramref name="peer"/> (its mTLS identity; null for a
    /// cleartext client, which no principal or namespace matches) at <paramref name="remote"/>, to the relay's port.
    /// </summary>
    public AuthorizationDecision Authorize(PeerIdentity? peer, IPAddress remote) => Authorization is not { } policies
        ? new AuthorizationDecision(true, null)
        : policies.Decide(new RouteRequest("", "", "", null, NoHeaders, _destinationPort), new RequestIdentity(peer?.Principal ?? "", remote.ToString(), null));

    /// <summary>Whether a route needs the ClientHello's server name (the listener reads it before routing).</summary>
    public bool SniPeek { get; }

    public IReadOnlyList<TcpRoute> Routes => _routes;

    /// <summary>Where the client meant to connect, for passthrough clusters (<see cref="TcpProxyConfig.Original"/>); null: nowhere known.</summary>
    public OriginalDestinationConfig? Original { get; }

    /// <summary>
    /// The destination of a connection to a passthrough cluster (Envoy's ORIGINAL_DST): the ClientHello's server name, else
    /// the listener's host, at its port; null when neither is known.
    /// </summary>
    public (string Host, int Port)? OriginalDestination(string? serverName) =>
        Original is { } original && (serverName ?? original.Host) is { Length: > 0 } host ? (host, original.Port) : null;

    /// <param name="clusters">The snapshot's clusters; the validator has checked that every name exists.</param>
    /// <param name="listener">The listener the routes belong to (its kind, identity and PeerAuthentication mode); null: none of those.</param>
    public static TcpRouteTable Compile(TcpProxyConfig config, IReadOnlyDictionary<string, ClusterState> clusters, ListenerConfig? listener = null)
    {
        var routes = (config.Routes ?? []).Select(r => TcpRoute.Compile(r, clusters)).ToArray();
        var inboundMtls = listener is { Kind: ListenerKind.Inbound } ? listener.Mtls : PeerAuthenticationMode.Disable;
        var authorization = listener is { Kind: ListenerKind.Inbound or ListenerKind.Gateway, Authorization: { } policies } ? AuthorizationPolicies.CompileForTcp(policies) : null;
        return new TcpRouteTable(routes, config.SniPeek || routes.Any(r => r.NeedsSni), config.Original, listener?.Identity, inboundMtls, authorization, config.DestinationPort ?? 0);
    }

    /// <summary>The first route whose matches hold for the connection; null when none does (the connection is closed, NR).</summary>
    public TcpRoute? Match(IPAddress local, IPAddress remote, string? serverName)
    {
        foreach (var route in _routes)
        {
            if (route.Matches(local, remote, serverName))
            {
                return route;
            }
        }

        return null;
    }
}

/// <summary>One compiled <see cref="TcpRouteConfig"/>.</summary>
internal sealed class TcpRoute
{
    private readonly TcpMatch[] _matches;
    private readonly ClusterState[] _clusters;
    private readonly int[] _weights;
    private readonly int _total;

    private TcpRoute(string name, TcpMatch[] matches, ClusterState[] clusters, int[] weights)
    {
        Name = name;
        _matches = matches;
        _clusters = clusters;
        _weights = weights;
        _total = weights.Sum();
    }

    public string Name { get; }

    public bool NeedsSni => _matches.Any(m => m.SniHosts is not null);

    public static TcpRoute Compile(TcpRouteConfig config, IReadOnlyDictionary<string, ClusterState> clusters)
    {
        // Zero weights can never be picked; dropping them keeps the pick short (as for HTTP routes).
        var targets = (config.Clusters ?? []).Where(c => c.Weight > 0).ToArray();
        return new TcpRoute(
            config.Name,
            (config.Matches ?? []).Select(TcpMatch.Compile).ToArray(),
            targets.Select(c => clusters[c.Cluster]).ToArray(),
            targets.Select(c => c.Weight).ToArray());
    }

    public bool Matches(IPAddress local, IPAddress remote, string? serverName)
    {
        if (_matches.Length == 0)
        {
            return true;
        }

        foreach (var match in _matches)
        {
            if (match.Holds(local, remote, serverName))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A cluster by weight, one draw per connection; null when the route has none with a positive weight.</summary>
    /// <param name="random">Uniform in [0, maxExclusive) (<see cref="ProxyServerOptions.Random"/>).</param>
    public ClusterState? PickCluster(Func<int, int> random)
    {
        if (_clusters.Length <= 1)
        {
            return _clusters.Length == 0 ? null : _clusters[0];
        }

        var draw = random(_total);
        for (var i = 0; i < _clusters.Length; i++)
        {
            draw -= _weights[i];
            if (draw < 0)
            {
                return _clusters[i];
            }
        }

        return _clusters[^1];
    }
}

/// <summary>One compiled <see cref="TcpMatchConfig"/>: every present condition must hold.</summary>
internal sealed record TcpMatch(IPNetwork[]? DestinationSubnets, IPNetwork? SourceSubnet, string[]? SniHosts)
{
    public static TcpMatch Compile(TcpMatchConfig config) => new(
        config.DestinationSubnets is { Count: > 0 } subnets ? subnets.Select(TcpSubnets.Parse).ToArray() : null,
        config.SourceSubnet is { Length: > 0 } source ? TcpSubnets.Parse(source) : null,
        config.SniHosts is { Count: > 0 } hosts ? hosts.Select(h => h.ToLowerInvariant()).ToArray() : null);

    public bool Holds(IPAddress local, IPAddress remote, string? serverName)
    {
        if (DestinationSubnets is { } subnets && !subnets.Any(s => s.Contains(TcpSubnets.Plain(local))))
        {
            return false;
        }

        if (SourceSubnet is { } source && !source.Contains(TcpSubnets.Plain(remote)))
        {
            return false;
        }

        return SniHosts is not { } hosts || (serverName is not null && hosts.Any(h => SniMatches(h, serverName)));
    }

    /// <summary>Istio's <c>sniHosts</c>: an exact name, <c>*.suffix</c> for any name below the suffix, or <c>*</c> for any name.</summary>
    public static bool SniMatches(string pattern, string serverName) =>
        pattern == "*"
        || (pattern.StartsWith("*.", StringComparison.Ordinal)
            ? serverName.Length > pattern.Length - 1 && serverName.EndsWith(pattern.AsSpan(1), StringComparison.OrdinalIgnoreCase)
            : serverName.Equals(pattern, StringComparison.OrdinalIgnoreCase));
}

/// <summary>Subnets as Istio writes them: a CIDR (<c>10.0.0.0/8</c>) or a single address.</summary>
internal static class TcpSubnets
{
    public static bool TryParse(string text, out IPNetwork network)
    {
        if (IPNetwork.TryParse(text, out network))
        {
            return true;
        }

        if (IPAddress.TryParse(text, out var address))
        {
            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        return false;
    }

    public static IPNetwork Parse(string text) =>
        TryParse(text, out var network) ? network : throw new FormatException($"'{text}' is not a CIDR or an IP address");

    /// <summary>An IPv4 client of a dual-stack socket appears as <c>::ffff:a.b.c.d</c>; subnets are written as IPv4.</summary>
    public static IPAddress Plain(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
