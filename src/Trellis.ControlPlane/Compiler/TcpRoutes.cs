using Trellis.Api.Networking;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// VirtualService <c>tcp</c> and <c>tls</c> rules as TCP proxy routes (<see cref="TcpRouteConfig"/>), with Istio's
/// semantics (pilot's <c>buildSidecarOutboundTCPListenerOpts</c> and <c>buildGatewayNetworkFiltersFromTCPRoutes</c>):
/// matches for other sources, gateways or ports are dropped when compiling; what a proxy can only see per connection
/// (the address connected to, the client's address, the TLS server name) stays in the route; destinations are weighted
/// clusters as for HTTP. See docs/tcp.md.
/// </summary>
internal static class TcpRoutes
{
    /// <summary>Ports whose connections the proxy relays as bytes: opaque TCP (<c>tcp</c>, <c>mongo</c>, <c>redis</c>, …) and
    /// TLS it does not terminate (<c>tls</c>, <c>https</c>).</summary>
    public static bool IsOpaque(PortProtocol protocol) => protocol is PortProtocol.Tcp or PortProtocol.Tls;

    /// <summary>
    /// Whether an instance's inbound listener relays TCP: some Service selects it and every port of those Services is
    /// opaque (an instance has one application port, so one listener protocol; a mix stays HTTP).
    /// </summary>
    public static bool InboundIsTcp(MeshIndex index, WorkloadInstance instance)
    {
        var protocols = index.Services.Values
            .Where(s => s.Instances.Any(i => i.Id == instance.Id))
            .SelectMany(s => s.Ports.Select(s.ProtocolOf))
            .ToList();
        return protocols.Count > 0 && protocols.All(IsOpaque);
    }

    /// <summary>
    /// The port an instance's inbound relay takes connections for, as AuthorizationPolicy <c>ports</c> see it: the one
    /// Service port of the Services that select it; null when they give it several (every one reaches the instance's one
    /// application port, so the relay cannot tell them apart).
    /// </summary>
    public static int? InboundPort(MeshIndex index, WorkloadInstance instance)
    {
        var ports = index.Services.Values.Where(s => s.Instances.Any(i => i.Id == instance.Id)).SelectMany(s => s.Ports).Distinct().ToList();
        return ports.Count == 1 ? ports[0] : null;
    }

    /// <summary>
    /// The routes of a workload's outbound TCP listener for one service port: the mesh VirtualService's <c>tls</c> rules
    /// (TLS ports) and <c>tcp</c> rules that apply to <paramref name="source"/>, then the service port's own cluster for
    /// connections no rule took (as a sidecar's default TCP filter chain). TCPRoutes and TLSRoutes attached to the Service
    /// (GAMMA) take the place of the VirtualService, as HTTPRoutes do for HTTP ports.
    /// </summary>
    public static List<TcpRouteConfig> Mesh(MeshIndex index, ClusterSet clusters, TrafficSource source, MeshService service, int port)
    {
        var tls = service.ProtocolOf(port) == PortProtocol.Tls;
        return GatewayApi.MeshL4Routes.For(index.GatewayApi, service.Namespace, service.Name, port, tls, source.Namespace, clusters)
            ?? WithDefault(index, clusters, source, service.Fqdn, port, tls, sniHosts: null);
    }

    /// <summary>
    /// A workload's outbound TCP listener for one TCP or TLS port of a ServiceEntry (its <paramref name="hosts"/> in the
    /// entry's order), as pilot builds the entry's outbound filter chains:
    /// <list type="bullet">
    /// <item>A TLS port (<c>TLS</c>, <c>HTTPS</c>) is passed through unterminated and chosen by the ClientHello's server
    /// name: per host, its VirtualService's <c>tls</c>/<c>tcp</c> rules, then the host's own cluster for the name
    /// (wildcard hosts as <c>*.suffix</c>). A name no host takes is closed (the listener stands for this entry only).</item>
    /// <item>A TCP port goes to the first host (Istio, without addresses, lets one entry own a TCP port): its
    /// VirtualService's <c>tcp</c> rules, then its cluster.</item>
    /// </list>
    /// Resolution <c>NONE</c> makes the clusters passthrough: the connection goes to the server name the client sent,
    /// or the TCP port's host, at the entry's port (<see cref="OriginalDestinationConfig"/>).
    /// </summary>
    public static TcpProxyConfig Entry(MeshIndex index, ClusterSet clusters, TrafficSource source, IReadOnlyList<EntryHost> hosts, int port)
    {
        if (hosts[0].ProtocolOf(port) != PortProtocol.Tls)
        {
            var host = hosts[0].Host;
            return new TcpProxyConfig(
                WithDefault(index, clusters, source, host, port, tls: false, sniHosts: null),
                Original: new OriginalDestinationConfig(host.StartsWith('*') ? null : host, port));
        }

        var routes = hosts.SelectMany(h => WithDefault(index, clusters, source, h.Host, port, tls: true, sniHosts: [h.Host])).ToList();
        return new TcpProxyConfig(routes, SniPeek: true, Original: new OriginalDestinationConfig(null, port));
    }

    /// <summary>
    /// A ServiceEntry port reached by one of the entry's <c>addresses</c> (a captured connection's original address, a
    /// CONNECT to an IP literal): as Istio routes TCP to an entry's address, to its first <paramref name="host"/>, by that
    /// host's VirtualService <c>tcp</c> rules then its cluster. The address says which entry, so no server name is needed,
    /// whatever the port's protocol; resolution <c>NONE</c> goes to the address itself.
    /// </summary>
    public static TcpProxyConfig EntryAddress(MeshIndex index, ClusterSet clusters, TrafficSource source, EntryHost host, int port) =>
        new(WithDefault(index, clusters, source, host.Host, port, tls: false, sniHosts: null), Original: new OriginalDestinationConfig(null, port));

    /// <summary>The mesh VirtualService's rules for <paramref name="host"/>, then its own cluster for what they leave (limited to <paramref name="sniHosts"/> when given).</summary>
    private static List<TcpRouteConfig> WithDefault(
        MeshIndex index, ClusterSet clusters, TrafficSource source, string host, int port, bool tls, IReadOnlyList<string>? sniHosts)
    {
        var vs = SnapshotCompiler.MeshVirtualService(index, host);
        var routes = vs is null ? [] : Translate(vs, source, clusters, port, port, tls);
        if (routes.Count == 0 || routes[^1].Matches.Count > 0)
        {
            IReadOnlyList<TcpMatchConfig> matches = sniHosts is null ? [] : [new TcpMatchConfig(SniHosts: sniHosts)];
            routes.Add(new TcpRouteConfig(sniHosts is null ? "default" : $"default/{host}", matches, [new WeightedClusterConfig(clusters.Outbound(host, port, null), 100)]));
        }

        return routes;
    }

    /// <summary>
    /// The routes of a gateway port whose servers are <c>TCP</c> (or <c>TLS</c> with <c>mode: PASSTHROUGH</c>, then by
    /// <c>tls</c> rules): the rules of every VirtualService bound to the port's gateways, oldest VirtualService first.
    /// A connection no rule takes is closed.
    /// </summary>
    public static List<TcpRouteConfig> Gateway(MeshIndex index, ClusterSet clusters, TrafficSource source, int port, bool passthrough)
    {
        var routes = new List<TcpRouteConfig>();
        foreach (var vs in index.VirtualServices.Where(v => v.Spec.Gateways.Any(g => source.Gateways.Contains(RouteTranslator.Qualify(g, v.Namespace)))))
        {
            routes.AddRange(Translate(vs, source, clusters, port, destinationPort: null, passthrough, tcp: !passthrough));
        }

        return routes;
    }

    /// <summary>Whether a gateway's servers on one port are relayed as TCP: all <c>TCP</c>-like, or all TLS <c>PASSTHROUGH</c>.</summary>
    public static (bool Tcp, bool Passthrough) GatewayPort(IReadOnlyList<Server> servers)
    {
        if (servers.All(s => PortProtocols.Parse(s.Port.Protocol) == PortProtocol.Tcp))
        {
            return (true, false);
        }

        var passthrough = servers.All(s => PortProtocols.Parse(s.Port.Protocol) == PortProtocol.Tls && s.Tls?.Mode == ServerTlsMode.Passthrough);
        return (passthrough, passthrough);
    }

    private static List<TcpRouteConfig> Translate(
        Scoped<VirtualServiceSpec> vs, TrafficSource source, ClusterSet clusters, int listenPort, int? destinationPort, bool tls, bool tcp = true)
    {
        var routes = new List<TcpRouteConfig>();
        var rules = new List<(string Kind, int Index, List<Match> Matches, IReadOnlyList<RouteDestination> Route)>();
        if (tls)
        {
            rules.AddRange(vs.Spec.Tls.Select((r, i) => ("tls", i, r.Match.Select(TlsMatch).ToList(), r.Route)));
        }

        if (tcp)
        {
            rules.AddRange(vs.Spec.Tcp.Select((r, i) => ("tcp", i, r.Match.Select(L4Match).ToList(), r.Route)));
        }

        foreach (var rule in rules)
        {
            var applicable = rule.Matches
                .Where(m => RouteTranslator.Applies(m.SourceLabels, m.SourceNamespace, m.Gateways, vs.Namespace, source) && (m.Port is null || m.Port == listenPort))
                .ToList();
            if (rule.Matches.Count > 0 && applicable.Count == 0)
            {
                continue; // every match is for other sources, gateways or ports
            }

            // Any-of: one applicable match without a condition the proxy checks makes the route match every connection.
            var matches = applicable.Any(m => m.Proxy is null) ? [] : applicable.Select(m => m.Proxy!).ToList();
            var destinations = rule.Route.Count == 1
                ? [new WeightedClusterConfig(clusters.Reference(rule.Route[0].Destination, vs.Namespace, destinationPort), 100)]
                : rule.Route.Where(d => d.Weight is > 0)
                    .Select(d => new WeightedClusterConfig(clusters.Reference(d.Destination, vs.Namespace, destinationPort), d.Weight!.Value))
                    .ToList();
            routes.Add(new TcpRouteConfig($"{vs.Namespace}/{vs.Name}/{rule.Kind}/{rule.Index}", matches, destinations));
            if (matches.Count == 0)
            {
                break; // connections match in order: nothing after a route that takes every connection can match
            }
        }

        return routes;
    }

    /// <summary>A match's compile-time conditions and what the proxy checks (null: nothing).</summary>
    private sealed record Match(
        IReadOnlyDictionary<string, string> SourceLabels, string? SourceNamespace, IReadOnlyList<string> Gateways, int? Port, TcpMatchConfig? Proxy);

    private static Match L4Match(L4MatchAttributes m) => new(
        m.SourceLabels, m.SourceNamespace, m.Gateways, m.Port,
        m.DestinationSubnets.Count == 0 && m.SourceSubnet is not { Length: > 0 }
            ? null
            : new TcpMatchConfig(m.DestinationSubnets.Count == 0 ? null : m.DestinationSubnets, m.SourceSubnet is { Length: > 0 } s ? s : null));

    private static Match TlsMatch(TlsMatchAttributes m) => new(
        m.SourceLabels, m.SourceNamespace, m.Gateways, m.Port,
        new TcpMatchConfig(m.DestinationSubnets.Count == 0 ? null : m.DestinationSubnets, SniHosts: m.SniHosts));
}
