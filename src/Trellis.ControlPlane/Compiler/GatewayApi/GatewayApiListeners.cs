using System.Globalization;
using Trellis.Api.GatewayApi;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>
/// The listeners a gateway proxy opens for Trellis's Gateway API Gateways: one per Gateway and port, bound on the
/// Gateway's own loopback address, serving the routes attached to that port's listeners. A route serves the hostnames
/// where it intersects its listener; a hostname that two listeners of the port both yield goes to the more specific
/// listener, as the spec picks a listener by its most specific hostname.
/// </summary>
internal static class GatewayApiListeners
{
    public static List<ListenerConfig> Build(GatewayApiIndex index, ClusterSet clusters, IDictionary<string, RouteTableConfig> tables)
    {
        // HTTPRoutes and GRPCRoutes share listeners, hostnames and precedence; each kind translates its own rules.
        var attachments = index.HttpRoutes
            .Select(r => (Route: r.Head, Translate: (Func<int, List<RankedRoute>>)(port => HttpRouteRules.Translate(r, port, clusters, index)), Parents: RouteAttachments.Resolve(r.Head, index)))
            .Concat(index.GrpcRoutes
                .Select(r => (Route: r.Head, Translate: (Func<int, List<RankedRoute>>)(port => GrpcRouteRules.Translate(r, port, clusters, index)), Parents: RouteAttachments.Resolve(r.Head, index))))
            .ToList();
        var compiled = new Dictionary<(RouteHead, int), List<RankedRoute>>();
        var listeners = new List<ListenerConfig>();
        foreach (var gateway in index.Gateways.Where(g => g.Ours && g.Address is not null))
        {
            foreach (var port in gateway.Spec.Listeners.Where(l => l.Protocol is "HTTP" or "HTTPS").GroupBy(l => l.Port).OrderBy(p => p.Key))
            {
                if (port.Select(l => l.Protocol).Distinct().Count() > 1)
                {
                    continue; // HTTP and HTTPS on one port conflict (status: ProtocolConflict); neither is served
                }

                var name = string.Create(CultureInfo.InvariantCulture, $"gatewayapi/{gateway.Namespace}/{gateway.Name}/{port.Key}");
                var https = port.First().Protocol == "HTTPS";
                var tls = https ? GatewayCertificates.ForPort(gateway, port, index) : null;
                if (https && tls is null)
                {
                    continue; // an HTTPS port without a usable certificate is not served, never in cleartext
                }

                // HTTP: one table for the port, a hostname going to its most specific listener. HTTPS: the listener the
                // client's server name chooses bounds the routes (Envoy's filter chain per server name), so each listener
                // with a hostname gets a table of its own, and the port's table holds the listeners without one.
                IReadOnlyList<ServerNameRouteConfig>? serverNames = null;
                if (https)
                {
                    var named = port.Where(l => !string.IsNullOrEmpty(l.Hostname)).ToList();
                    serverNames = [.. named.Select(l => new ServerNameRouteConfig(l.Hostname!, $"{name}/{l.Name}"))];
                    foreach (var listener in named)
                    {
                        tables[$"{name}/{listener.Name}"] = Table($"{name}/{listener.Name}", gateway, [listener], port.Key, attachments, compiled);
                    }

                    tables[name] = Table(name, gateway, [.. port.Where(l => string.IsNullOrEmpty(l.Hostname))], port.Key, attachments, compiled);
                }
                else
                {
                    tables[name] = Table(name, gateway, [.. port], port.Key, attachments, compiled);
                }

                listeners.Add(new ListenerConfig(name, gateway.Address!, port.Key, ListenerKind.Gateway, name, Tls: tls, ServerNames: serverNames is { Count: > 0 } ? serverNames : null));
            }

            listeners.AddRange(TcpRouteRules.Listeners(gateway, index, clusters));
            listeners.AddRange(TlsRouteRules.Listeners(gateway, index, clusters));
        }

        return listeners;
    }

    /// <summary>The route table of the routes attached to <paramref name="listeners"/> (of one port of <paramref name="gateway"/>).</summary>
    private static RouteTableConfig Table(
        string name,
        GatewayEntry gateway,
        IReadOnlyList<Listener> listeners,
        int port,
        List<(RouteHead Route, Func<int, List<RankedRoute>> Translate, List<ParentAttachment> Parents)> attachments,
        Dictionary<(RouteHead, int), List<RankedRoute>> compiled)
    {
        var hosts = new Dictionary<string, HostRoutes>(StringComparer.OrdinalIgnoreCase);
        foreach (var (route, translate, parents) in attachments)
        {
            foreach (var attached in parents.SelectMany(p => p.Listeners).Where(a => a.Gateway == gateway && a.Listener.Port == port && listeners.Contains(a.Listener)))
            {
                if (!compiled.TryGetValue((route, port), out var routes))
                {
                    compiled[(route, port)] = routes = translate(port);
                }

                var specificity = RouteHostnames.Specificity(attached.Listener.Hostname);
                foreach (var host in attached.Hostnames)
                {
                    if (!hosts.TryGetValue(host, out var entry) || entry.Specificity < specificity)
                    {
                        hosts[host] = entry = new HostRoutes(specificity);
                    }

                    // A route attached twice (two parentRefs, two listeners) serves a hostname once.
                    if (entry.Specificity == specificity && entry.Sources.Add(route))
                    {
                        entry.Routes.AddRange(routes);
                    }
                }
            }
        }

        var vhosts = hosts
            .OrderBy(h => h.Key, StringComparer.Ordinal)
            .Select(h => new VirtualHostConfig(h.Key, [h.Key], h.Value.Routes.OrderBy(r => r.Rank).Select(r => r.Route).ToList()))
            .ToList();
        return new RouteTableConfig(name, vhosts);
    }

    private sealed class HostRoutes(int specificity)
    {
        public int Specificity { get; } = specificity;

        public List<RankedRoute> Routes { get; } = [];

        public HashSet<RouteHead> Sources { get; } = new(ReferenceEqualityComparer.Instance);
    }
}
