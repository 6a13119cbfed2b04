using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Trellis.Api;
using Trellis.Api.Networking;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.Serving.Revisions;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// The config compiler: a pure function from (proxy, mesh state) to the proxy's snapshot.
/// The snapshot version is a hash of its content, so a change elsewhere in the mesh that does not
/// alter what this proxy sees produces the same version and no push.
/// </summary>
public static class SnapshotCompiler
{
    private static readonly IReadOnlySet<string> Mesh = new HashSet<string>();

    public static ProxySnapshot Compile(ProxyHello proxy, MeshState state)
    {
        var index = new MeshIndex(state);
        var clusters = new ClusterSet(index);
        var tables = new Dictionary<string, RouteTableConfig>(StringComparer.Ordinal);
        var listeners = proxy.Role == ProxyRole.Node
            ? NodeListeners(proxy, state, index, clusters, tables)
            : GatewayWorkload.Apply([.. GatewayListeners(proxy, index, clusters, tables, state.AsyncFunctions), .. GatewayApi.GatewayApiListeners.Build(index.GatewayApi, clusters, tables)], proxy, index, state);
        var unversioned = new ProxySnapshot("", listeners, tables.Values.OrderBy(t => t.Name, StringComparer.Ordinal).ToList(), clusters.Clusters);
        return unversioned with { Version = Hash(unversioned) };
    }

    private static List<ListenerConfig> NodeListeners(ProxyHello proxy, MeshState state, MeshIndex index, ClusterSet clusters, Dictionary<string, RouteTableConfig> tables)
    {
        var listeners = new List<ListenerConfig>();
        foreach (var instance in state.Instances.Where(i => i.Node == proxy.Node))
        {
            if (instance.Ports.TryGetValue(WorkloadInstance.InboundPort, out var inbound) && instance.Ports.TryGetValue(WorkloadInstance.AppPort, out var app))
            {
                // An HTTP/2 application (gRPC) is spoken to in h2c, and so is its inbound listener by other proxies.
                var protocol = clusters.InboundProtocol(instance);
                var cluster = clusters.Inbound(instance, app, protocol);
                // An instance whose Services' ports are all opaque TCP gets a TCP relay in front instead (docs/tcp.md).
                var tcp = TcpRoutes.InboundIsTcp(index, instance)
                    ? new TcpProxyConfig([new TcpRouteConfig("inbound", [], [new WeightedClusterConfig(cluster, 100)])], DestinationPort: TcpRoutes.InboundPort(index, instance))
                    : null;
                var table = tcp is not null ? "" : Add(tables, "inbound/" + instance.Id, [new VirtualHostConfig("inbound", ["*"], [new RouteConfig("default", [], [new WeightedClusterConfig(cluster, 100)])])]);
                var identity = PeerAuthentications.IdentityOf(index, instance);
                listeners.Add(new ListenerConfig(
                    $"{instance.Id}/inbound", instance.Host, inbound, ListenerKind.Inbound, table, instance.Id, Tcp: tcp,
                    Protocols: protocol == UpstreamProtocol.Http2 ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2,
                    Serving: InstanceServing(instance, index), RateLimit: RateLimits.Listener(index, instance.Labels, instance.Namespace),
                    Peer: TelemetryMetadata.Workload(instance), Services: TelemetryMetadata.ServicesOf(instance, index),
                    Authorization: Authorization.Listener(index, instance.Labels, instance.Namespace),
                    Telemetry: TelemetryPolicies.For(index, instance.Namespace, instance.Labels, ListenerKind.Inbound),
                    Authentication: RequestAuthentications.Listener(index, state, instance.Labels, instance.Namespace),

                    Identity: identity, Mtls: identity is null ? PeerAuthenticationMode.Disable : PeerAuthentications.ModeFor(index, instance)));
            }

            if (instance.Ports.TryGetValue(WorkloadInstance.OutboundPort, out var outbound))
            {
                var source = new TrafficSource(instance.Labels, instance.Namespace, Mesh);
                var view = OutboundView.For(index, instance.Namespace, instance.Labels);
                var hosts = RateLimits.Routes(OutboundHosts(source, index, clusters, view), index, instance.Labels, instance.Namespace);
                var table = AddShared(tables, "outbound", hosts);
                listeners.Add(new ListenerConfig($"{instance.Id}/outbound", "127.0.0.1", outbound, ListenerKind.Outbound, table, instance.Id, Peer: TelemetryMetadata.Workload(instance),
                    Telemetry: TelemetryPolicies.For(index, instance.Namespace, instance.Labels, ListenerKind.Outbound),
                    Identity: PeerAuthentications.IdentityOf(index, instance), Destinations: TcpDestinations.For(index, clusters, source, view)));
                listeners.AddRange(OutboundTcpListeners(instance, source, index, clusters));
                listeners.AddRange(OutboundEntryListeners(instance, source, index, clusters, view));
            }
        }

        if (CaptureListener(proxy, index, clusters, tables) is { } capture)
        {
            listeners.Add(capture);
        }

        return listeners;
    }

    /// <summary>
    /// The capture listener of a node whose agent redirects its workloads' outbound TCP (<see cref="ProxyHello.CapturePortLabel"/>,
    /// Istio's port 15001). Its workloads share the node's network stack, so a captured connection does not say which
    /// instance opened it: it is routed with the view of a workload without labels in Kubernetes' <c>default</c> namespace
    /// (short names like <c>reviews</c> are that namespace's services, as a pod's DNS search path makes them; its Sidecar,
    /// else the mesh's outbound policy; every VirtualService exported there), without a client identity.
    /// </summary>
    private static ListenerConfig? CaptureListener(ProxyHello proxy, MeshIndex index, ClusterSet clusters, Dictionary<string, RouteTableConfig> tables)
    {
        if (!proxy.Labels.TryGetValue(ProxyHello.CapturePortLabel, out var text)
            || !int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return null;
        }

        const string ns = "default";
        var none = new Dictionary<string, string>();
        var source = new TrafficSource(none, ns, Mesh);
        var view = OutboundView.For(index, ns, none);
        var table = AddShared(tables, "outbound", RateLimits.Routes(OutboundHosts(source, index, clusters, view), index, none, ns));
        return new ListenerConfig("capture", "127.0.0.1", port, ListenerKind.Outbound, table,
            Telemetry: TelemetryPolicies.For(index, ns, none, ListenerKind.Outbound), Capture: true, Destinations: TcpDestinations.For(index, clusters, source, view));
    }

    /// <summary>
    /// The instance's outbound TCP listeners: one per Service port the agent reserved a port for
    /// (<see cref="WorkloadInstance.TcpPortKey"/>), relaying to that service port by its <c>tcp</c>/<c>tls</c> routes.
    /// A reserved port whose Service or port is gone (or no longer TCP) gets no listener: connections are refused.
    /// </summary>
    private static IEnumerable<ListenerConfig> OutboundTcpListeners(WorkloadInstance instance, TrafficSource source, MeshIndex index, ClusterSet clusters)
    {
        foreach (var (key, local) in instance.Ports.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (!WorkloadInstance.TryParseTcpPortKey(key, out var ns, out var name, out var port)
                || !index.Services.TryGetValue($"{name}.{ns}.svc.cluster.local", out var service)
                || !service.Ports.Contains(port) || !TcpRoutes.IsOpaque(service.ProtocolOf(port)))
            {
                continue;
            }

            yield return new ListenerConfig(
                $"{instance.Id}/{key}", "127.0.0.1", local, ListenerKind.Outbound, "", instance.Id, Peer: TelemetryMetadata.Workload(instance),
                Telemetry: TelemetryPolicies.For(index, instance.Namespace, instance.Labels, ListenerKind.Outbound),
                Tcp: new TcpProxyConfig(TcpRoutes.Mesh(index, clusters, source, service, port)), Identity: PeerAuthentications.IdentityOf(index, instance));
        }
    }

    /// <summary>
    /// The instance's outbound listeners for ServiceEntry TCP and TLS ports: one per port the agent reserved
    /// (<see cref="WorkloadInstance.EntryPortKey"/>), relaying to the entry's hosts in the workload's view
    /// (<see cref="TcpRoutes.Entry"/>). A reserved port whose entry, port or hosts are gone gets no listener.
    /// </summary>
    private static IEnumerable<ListenerConfig> OutboundEntryListeners(WorkloadInstance instance, TrafficSource source, MeshIndex index, ClusterSet clusters, OutboundView view)
    {
        foreach (var (key, local) in instance.Ports.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (!WorkloadInstance.TryParseEntryPortKey(key, out var ns, out var name, out var port))
            {
                continue;
            }

            // The entry's hosts in its own order; a host a Service or an older entry defines is not this entry's.
            var hosts = index.EntryHosts.Values.FirstOrDefault(e => e.Name == name && e.Namespace == ns)?.Spec.Hosts
                .Select(h => index.EntryHosts.GetValueOrDefault(ServiceEntries.HostOf(h)))
                .Where(e => e is not null && e.Name == name && e.Namespace == ns && e.Port(port) is not null
                    && TcpRoutes.IsOpaque(e.ProtocolOf(port)) && view.Sees(ns, e.Host, port))
                .Select(e => e!)
                .DistinctBy(e => e.Host)
                .ToList();
            if (hosts is not { Count: > 0 })
            {
                continue;
            }

            yield return new ListenerConfig(
                $"{instance.Id}/{key}", "127.0.0.1", local, ListenerKind.Outbound, "", instance.Id, Peer: TelemetryMetadata.Workload(instance),
                Telemetry: TelemetryPolicies.For(index, instance.Namespace, instance.Labels, ListenerKind.Outbound),
                Tcp: TcpRoutes.Entry(index, clusters, source, hosts, port), Identity: PeerAuthentications.IdentityOf(index, instance));
        }
    }

    /// <summary>
    /// A Knative revision instance's inbound listener does queue-proxy's work: containerConcurrency as a
    /// hard limit with a queue of 10 × containerConcurrency (Knative's breaker), and the revision's timeouts.
    /// </summary>
    private static InstanceServingConfig? InstanceServing(WorkloadInstance instance, MeshIndex index)
    {
        if (!instance.Labels.TryGetValue(ServingLabels.Revision, out var revision) || !index.Revisions.TryGetValue((instance.Namespace, revision), out var spec))
        {
            return null;
        }

        var concurrency = (int)(spec.ContainerConcurrency ?? 0);
        return new InstanceServingConfig(
            ContainerConcurrency: concurrency,
            QueueDepth: concurrency == 0 ? 0 : 10 * concurrency,
            Timeout: TimeSpan.FromSeconds(spec.TimeoutSeconds ?? 300),
            ResponseStartTimeout: spec.ResponseStartTimeoutSeconds is { } start ? TimeSpan.FromSeconds(start) : null,
            IdleTimeout: spec.IdleTimeoutSeconds is { } idle ? TimeSpan.FromSeconds(idle) : null);
    }

    /// <summary>
    /// One virtual host per service port in the workload's <paramref name="view"/>, reachable by every name a client in
    /// the mesh may use for it, then ServiceEntry hosts, Knative routes, and last the catch-all for every other host
    /// (<see cref="OutboundView.Mode"/>). Without a VirtualService the route still carries Istio's default retry policy
    /// (pilot's <c>BuildDefaultHTTPOutboundRoute</c>).
    /// </summary>
    private static List<VirtualHostConfig> OutboundHosts(TrafficSource source, MeshIndex index, ClusterSet clusters, OutboundView view)
    {
        var hosts = new List<VirtualHostConfig>();
        foreach (var service in index.Services.Values.OrderBy(s => s.Fqdn, StringComparer.Ordinal))
        {
            var vs = MeshVirtualService(index, service.Fqdn);
            for (var p = 0; p < service.Ports.Count; p++)
            {
                var port = service.Ports[p];
                if (!view.Sees(service.Namespace, service.Fqdn, port))
                {
                    continue;
                }

                var routes = GatewayApi.MeshRoutes.For(index.GatewayApi, service.Namespace, service.Name, port, source.Namespace, clusters)
                    ?? (vs is null ? [] : RouteTranslator.Translate(vs, source, clusters, new RouteContext(port, port)).Select(r => r.Route).ToList());
                if (routes.Count == 0)
                {
                    routes = [new RouteConfig("default", [], [new WeightedClusterConfig(clusters.Outbound(service.Fqdn, port, null), 100)], Retry: HttpPolicies.DefaultRetry)];
                }

                hosts.Add(new VirtualHostConfig($"{service.Fqdn}:{port}", Domains(service, port, source.Namespace, firstPort: p == 0), routes));
            }
        }

        var taken = hosts.SelectMany(h => h.Domains).ToHashSet(StringComparer.OrdinalIgnoreCase);
        hosts.AddRange(EntryHosts(source, index, clusters, view, taken));
        hosts.AddRange(KnativeRoutes.Hosts(index, clusters, mesh: true, taken, (ns, fqdn) => view.Sees(ns, fqdn, 80)));
        if (taken.Add("*"))
        {
            hosts.Add(CatchAll(view.Mode, clusters));
        }

        return hosts;
    }

    /// <summary>The HTTP ports of ServiceEntry hosts, as a Service's: <c>host:port</c>, and the bare host for its first port or 80.</summary>
    private static IEnumerable<VirtualHostConfig> EntryHosts(TrafficSource source, MeshIndex index, ClusterSet clusters, OutboundView view, ISet<string> taken)
    {
        foreach (var entry in index.EntryHosts.Values)
        {
            var vs = MeshVirtualService(index, entry.Host);
            var ports = entry.Spec.Ports;
            for (var p = 0; p < ports.Count; p++)
            {
                var port = ports[p].Number;
                if (!entry.ProtocolOf(port).IsHttp() || !view.Sees(entry.Namespace, entry.Host, port))
                {
                    continue;
                }

                var routes = vs is null ? [] : RouteTranslator.Translate(vs, source, clusters, new RouteContext(port, port)).Select(r => r.Route).ToList();
                if (routes.Count == 0)
                {
                    routes = [new RouteConfig("default", [], [new WeightedClusterConfig(clusters.Outbound(entry.Host, port, null), 100)], Retry: HttpPolicies.DefaultRetry)];
                }

                var domains = new List<string> { string.Create(CultureInfo.InvariantCulture, $"{entry.Host}:{port}") };
                if (p == 0 || port == 80)
                {
                    domains.Add(entry.Host);
                }

                if (domains.Where(taken.Add).ToList() is { Count: > 0 } mine)
                {
                    yield return new VirtualHostConfig($"{entry.Host}:{port}", mine, routes);
                }
            }
        }
    }

    /// <summary>
    /// Every host outside the view (pilot's <c>allow_any</c> and <c>block_all</c> virtual hosts): <c>ALLOW_ANY</c> sends the
    /// request on to the authority it names (<c>PassthroughCluster</c>), <c>REGISTRY_ONLY</c> answers 502.
    /// </summary>
    private static VirtualHostConfig CatchAll(OutboundMode mode, ClusterSet clusters) => mode == OutboundMode.RegistryOnly
        ? new VirtualHostConfig("block_all", ["*"], [new RouteConfig("block_all", [], [], DirectResponse: new DirectResponseConfig(502))])
        : new VirtualHostConfig("allow_any", ["*"], [new RouteConfig("allow_any", [], [new WeightedClusterConfig(clusters.Passthrough(), 100)])]);

    /// <summary>
    /// The VirtualService a sidecar uses for a service. Istio merges VirtualServices only on gateways: in the mesh one
    /// applies, the one whose host names the service exactly before a wildcard (Envoy's domain precedence), the longer
    /// wildcard before the shorter, and among equals the oldest (istioctl analyze reports the conflict as IST0109).
    /// </summary>
    internal static Scoped<VirtualServiceSpec>? MeshVirtualService(MeshIndex index, string host)
    {
        Scoped<VirtualServiceSpec>? best = null;
        var bestRank = -1;
        foreach (var vs in index.VirtualServices)
        {
            if (vs.Spec.Gateways.Count > 0 && !vs.Spec.Gateways.Contains("mesh"))
            {
                continue;
            }

            foreach (var written in vs.Spec.Hosts)
            {
                var pattern = index.Resolve(written, vs.Namespace);
                if (!HostNames.Matches(pattern, host))
                {
                    continue;
                }

                var rank = pattern.StartsWith('*') ? pattern.Length : int.MaxValue;
                if (rank > bestRank)
                {
                    (best, bestRank) = (vs, rank);
                }
            }
        }

        return best;
    }

    /// <summary>The names a client in <paramref name="sourceNamespace"/> may call a service by (the short one in its own namespace only).</summary>
    internal static List<string> Names(MeshService service, string sourceNamespace)
    {
        var names = new List<string> { service.Fqdn, $"{service.Name}.{service.Namespace}", $"{service.Name}.{service.Namespace}.svc" };
        if (service.Namespace == sourceNamespace)
        {
            names.Add(service.Name);
        }

        return names;
    }

    private static List<string> Domains(MeshService service, int port, string sourceNamespace, bool firstPort)
    {
        var names = Names(service, sourceNamespace);
        var domains = names.Select(n => string.Create(CultureInfo.InvariantCulture, $"{n}:{port}")).ToList();
        if (firstPort || port == 80)
        {
            domains.AddRange(names); // a Host header without a port means the service's main port
        }

        return domains;
    }

    private static List<ListenerConfig> GatewayListeners(ProxyHello proxy, MeshIndex index, ClusterSet clusters, Dictionary<string, RouteTableConfig> tables, Uri? asyncFunctions)
    {
        var listeners = new List<ListenerConfig>();
        var gateways = index.Gateways.Where(g => g.Spec.Selector.Count > 0 && Labels.Selects(g.Spec.Selector, proxy.Labels)).ToList();
        foreach (var byPort in gateways.SelectMany(g => g.Spec.Servers.Select(s => (Gateway: g, Server: s))).GroupBy(x => x.Server.Port.Number).OrderBy(g => g.Key))
        {
            var port = byPort.Key;
            var names = byPort.Select(x => $"{x.Gateway.Namespace}/{x.Gateway.Name}").ToHashSet(StringComparer.Ordinal);
            var source = new TrafficSource(proxy.Labels, "", names);
            var listenerName = string.Create(CultureInfo.InvariantCulture, $"gateway/{port}");
            var unusable = false;
            if (TcpRoutes.GatewayPort(byPort.Select(x => x.Server).ToList()) is (true, var passthrough))
            {
                // TCP servers (and TLS PASSTHROUGH ones, routed by SNI) relay connections by the bound VirtualServices' tcp/tls rules.
                listeners.Add(new ListenerConfig(listenerName, "127.0.0.1", port, ListenerKind.Gateway, "",
                    Tcp: new TcpProxyConfig(TcpRoutes.Gateway(index, clusters, source, port, passthrough), SniPeek: passthrough, DestinationPort: port)));
                continue;
            }

            var meshMutual = GatewayServerTls.MeshMutual(byPort.Select(x => x.Server).ToList());
            var tls = meshMutual ? null : GatewayServerTls.Port(byPort.Select(x => (x.Gateway.Namespace, x.Server)), index, out unusable);
            if (unusable)
            {
                continue; // a TLS server whose credential is missing is not served at all, never in cleartext
            }

            var vhosts = AsyncFunctionRoutes.Add(GatewayHosts(index, clusters, source, names, new RouteContext(null, port, tls is not null || meshMutual)), asyncFunctions, clusters);
            if (byPort.Any(x => x.Server.Tls?.HttpsRedirect == true))
            {
                // Istio: an HTTP server with httpsRedirect answers every request with a 301 to https.
                vhosts = [new VirtualHostConfig("https-redirect", ["*"], [new RouteConfig("https-redirect", [], [], new RedirectConfig(Scheme: "https"))])];
            }

            var table = Add(tables, string.Create(CultureInfo.InvariantCulture, $"gateway/{port}"), RateLimits.Routes(vhosts, index, proxy.Labels, ns: null));
            listeners.Add(new ListenerConfig(listenerName, "127.0.0.1", port, ListenerKind.Gateway, table, Tls: tls, RateLimit: RateLimits.Listener(index, proxy.Labels, ns: null),
                Mtls: meshMutual ? PeerAuthenticationMode.Strict : PeerAuthenticationMode.Disable));
        }

        return listeners;
    }

    /// <summary>
    /// The virtual hosts of one gateway port, as pilot builds them (<c>buildGatewayVirtualHosts</c>): the routes of every
    /// VirtualService bound to the port's gateways, merged per host in VirtualService order (oldest first), then the
    /// routes that match everything moved behind the others (<c>SortVHostRoutes</c>), so that one VirtualService's
    /// catch-all cannot hide another's specific routes.
    /// </summary>
    private static List<VirtualHostConfig> GatewayHosts(MeshIndex index, ClusterSet clusters, TrafficSource source, IReadOnlySet<string> names, RouteContext context)
    {
        var hosts = new Dictionary<string, List<TranslatedRoute>>(StringComparer.OrdinalIgnoreCase);
        foreach (var vs in index.VirtualServices.Where(v => v.Spec.Gateways.Any(g => names.Contains(RouteTranslator.Qualify(g, v.Namespace)))))
        {
            var routes = RouteTranslator.Translate(vs, source, clusters, context, splitCatchAll: true);
            foreach (var host in vs.Spec.Hosts)
            {
                var domain = host.ToLowerInvariant();
                if (!hosts.TryGetValue(domain, out var list))
                {
                    hosts[domain] = list = [];
                }

                list.AddRange(routes);
            }
        }

        var vhosts = hosts.OrderBy(h => h.Key == "*" ? 1 : 0).ThenBy(h => h.Key, StringComparer.Ordinal)
            .Select(h => new VirtualHostConfig(h.Key, [h.Key], [.. h.Value.Where(r => !r.CatchAll).Select(r => r.Route), .. h.Value.Where(r => r.CatchAll).Select(r => r.Route)]))
            .ToList();
        var taken = hosts.Keys.ToHashSet(StringComparer.OrdinalIgnoreCase);
        vhosts.InsertRange(0, KnativeRoutes.Hosts(index, clusters, mesh: false, taken)); // every gateway serves Knative's external hosts
        return vhosts;
    }

    private static string Add(Dictionary<string, RouteTableConfig> tables, string name, IReadOnlyList<VirtualHostConfig> hosts)
    {
        tables[name] = new RouteTableConfig(name, hosts);
        return name;
    }

    /// <summary>Identical tables (instances with the same view) are sent once, named by their content.</summary>
    private static string AddShared(Dictionary<string, RouteTableConfig> tables, string prefix, IReadOnlyList<VirtualHostConfig> hosts)
    {
        var name = $"{prefix}/{Hash(hosts)[..8]}";
        tables.TryAdd(name, new RouteTableConfig(name, hosts));
        return name;
    }

    private static string Hash<T>(T value) =>
        Convert.ToHexString(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(value, WireJson.Options)), 0, 8).ToLowerInvariant();
}
