using Trellis.Api;
using Trellis.Api.Networking;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.Serving.Revisions;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// Collects the clusters one snapshot refers to and builds each once: a service port, optionally narrowed
/// to a DestinationRule subset, with the ready instances it selects as endpoints. A destination whose host
/// or subset is unknown still gets an (empty) cluster, so the proxy answers 503 "no healthy upstream",
/// as Envoy does, instead of rejecting the whole snapshot.
/// </summary>
internal sealed class ClusterSet(MeshIndex index)
{
    private readonly Dictionary<string, ClusterConfig> _clusters = new(StringComparer.Ordinal);

    public IReadOnlyList<ClusterConfig> Clusters => _clusters.Values.OrderBy(c => c.Name, StringComparer.Ordinal).ToList();

    /// <summary>The cluster for a route destination written in namespace <paramref name="ns"/>.</summary>
    public string Reference(Destination destination, string ns, int? contextPort)
    {
        var fqdn = index.Resolve(destination.Host, ns);
        IReadOnlyList<int> ports = index.Services.TryGetValue(fqdn, out var service) ? service.Ports
            : index.EntryHosts.TryGetValue(fqdn, out var entry) ? entry.Ports.ToList()
            : [];
        var port = destination.Port?.Number
            ?? (ports.Count == 1 ? ports[0] : (int?)null)
            ?? contextPort
            ?? (ports.Count > 0 ? ports[0] : 80);
        return Outbound(fqdn, port, destination.Subset);
    }

    public string Outbound(string fqdn, int port, string? subset)
    {
        var name = ClusterNames.Outbound(port, subset, fqdn);
        if (!_clusters.ContainsKey(name))
        {
            _clusters[name] = BuildOutbound(name, fqdn, port, subset);
        }

        return name;
    }

    /// <summary>One Knative revision: its ready instances, found by the revision label the serving controller puts on its Deployment.</summary>
    public string Revision(string ns, string serviceFqdn, string revision)
    {
        var name = ClusterNames.Outbound(80, revision, serviceFqdn);
        if (!_clusters.ContainsKey(name))
        {
            var endpoints = index.Instances
                .Where(i => i.Ready && i.Namespace == ns && i.Labels.GetValueOrDefault(ServingLabels.Revision) == revision)
                .Select(MeshEndpoint).Where(e => e is not null).Select(e => e!).ToList();
            var identities = index.Instances.Where(i => i.Namespace == ns && i.Labels.GetValueOrDefault(ServingLabels.Revision) == revision);
            // The in-proxy activator: at zero instances requests wait (up to the revision's timeout) instead of
            // failing. While the autoscaler keeps it in the path (too little burst capacity), it also caps each
            // instance at containerConcurrency from this proxy and holds the rest, as Knative's activator does.
            var timeout = index.Revisions.TryGetValue((ns, revision), out var spec) ? spec.TimeoutSeconds ?? 300 : 300;
            var capacity = index.ActivatorInPath.Contains((ns, revision)) ? (int)Math.Clamp(spec?.ContainerConcurrency ?? 0, 0, int.MaxValue) : 0;
            _clusters[name] = new ClusterConfig(
                name, endpoints, Activation: new ActivationConfig(ActivationQueueCapacity, TimeSpan.FromSeconds(timeout), capacity),
                Service: TelemetryMetadata.Service(serviceFqdn, index, 80), Tls: MeshTls(ClusterTlsMode.Auto, identities));
        }

        return name;
    }

    /// <summary>Istio's <c>PassthroughCluster</c>: no endpoints; each request goes to the authority it names.</summary>
    public string Passthrough()
    {
        const string name = "PassthroughCluster";
        _clusters.TryAdd(name, new ClusterConfig(name, [], LoadBalancerKind.Passthrough));
        return name;
    }

    /// <summary>A cluster of one fixed address, for a listener of the control plane's own (the eventing listener).</summary>
    public string Fixed(string name, string host, int port)
    {
        _clusters.TryAdd(name, new ClusterConfig(name, [new EndpointConfig(host, port)]));
        return name;
    }

    /// <summary>A cluster without endpoints, for a route target that cannot be resolved: the proxy answers it 503.</summary>
    public string Unreachable(string name)
    {
        _clusters.TryAdd(name, new ClusterConfig(name, []));
        return name;
    }

    /// <summary>Requests one proxy holds per revision at zero; beyond it, 503 (Knative's activator bounds its queue too).</summary>
    public const int ActivationQueueCapacity = 1000;

    public string Inbound(WorkloadInstance instance, int appPort, UpstreamProtocol protocol = UpstreamProtocol.Http1)
    {
        var name = ClusterNames.Inbound(appPort, instance.Id);
        _clusters[name] = new ClusterConfig(name, [new EndpointConfig("127.0.0.1", appPort)], Protocol: protocol);
        return name;
    }

    /// <summary>
    /// The protocol an instance's application speaks, from the Services that select it: HTTP/2 when their HTTP ports are
    /// all HTTP/2 (<c>grpc</c>, <c>http2</c>), since an instance has one application port; else HTTP/1.1.
    /// </summary>
    public UpstreamProtocol InboundProtocol(WorkloadInstance instance)
    {
        var ports = index.Services.Values
            .Where(s => s.Instances.Any(i => i.Id == instance.Id))
            .SelectMany(s => s.Ports.Select(s.ProtocolOf))
            .Where(p => p.IsHttp())
            .ToList();
        return ports.Count > 0 && ports.All(p => p == PortProtocol.Http2) ? UpstreamProtocol.Http2 : UpstreamProtocol.Http1;
    }

    /// <summary>
    /// The endpoints of a service port (of one subset), with the DestinationRule's traffic policy for that subset and
    /// port merged as Istio merges it (<see cref="TrafficPolicies.Merge"/>).
    /// </summary>
    private ClusterConfig BuildOutbound(string name, string fqdn, int port, string? subsetName)
    {
        index.Services.TryGetValue(fqdn, out var service);
        index.EntryHosts.TryGetValue(fqdn, out var entry);
        var rule = index.RuleFor(fqdn, entry?.Namespace);
        var subset = subsetName is null ? null : rule?.Spec.Subsets.FirstOrDefault(s => s.Name == subsetName);
        var metadata = TelemetryMetadata.Service(fqdn, index, port);
        if ((service is null && entry is null) || (subsetName is not null && subset is null))
        {
            return new ClusterConfig(name, [], Service: metadata);
        }

        var endpoints = service is not null
            ? service.Instances
                .Where(i => i.Ready && (subset is null || Labels.Selects(subset.Labels, i.Labels)))
                .Select(MeshEndpoint)
                .Where(e => e is not null)
                .Select(e => e!)
                .ToList()
            : ServiceEntries.Endpoints(entry!, port, subset?.Labels, index.Instances);
        var protocol = service?.ProtocolOf(port) ?? entry!.ProtocolOf(port);
        var policy = TrafficPolicies.Merge(rule?.Spec.TrafficPolicy, subset?.TrafficPolicy, port);
        var cluster = TrafficPolicies.Apply(new ClusterConfig(name, endpoints, Protocol: Upstream(protocol), Service: metadata), policy);
        if (rule is not null && TlsOrigination.For(policy.Tls, rule.Namespace, index) is { } origination)
        {
            // SIMPLE or MUTUAL: TLS to the servers with the rule's settings, for a ServiceEntry host or a Service alike.
            cluster = cluster with { Tls = origination };
        }
        else if (service is not null)
        {
            // Secure naming: a server of this cluster must present the identity of one of the service's workloads, or
            // one of the rule's subjectAltNames when it lists them (Istio's ISTIO_MUTUAL with subjectAltNames).
            var tls = MeshTls(TlsMode(policy.Tls?.Mode), service.Instances);
            cluster = cluster with
            {
                Tls = tls with
                {
                    PeerIdentities = policy.Tls is { SubjectAltNames.Count: > 0 } written ? written.SubjectAltNames : tls.PeerIdentities,
                    Sni = string.IsNullOrEmpty(policy.Tls?.Sni) ? null : policy.Tls.Sni,
                },
            };
        }

        // resolution NONE: no endpoints to balance over, the request goes to the address it was sent to.
        return service is null && entry!.Resolution == ServiceEntryResolution.None
            ? cluster with { LoadBalancer = LoadBalancerKind.Passthrough, ConsistentHash = null, WarmupDuration = null }
            : cluster;
    }

    /// <summary>HTTP/2 ports (<c>http2</c>, <c>grpc</c>) get HTTP/2 upstreams end to end; every other port HTTP/1.1.</summary>
    public static UpstreamProtocol Upstream(PortProtocol protocol) =>
        protocol == PortProtocol.Http2 ? UpstreamProtocol.Http2 : UpstreamProtocol.Http1;

    /// <summary>
    /// DestinationRule <c>tls.mode</c> for a mesh service: ISTIO_MUTUAL and DISABLE are honoured; none is auto mTLS.
    /// SIMPLE and MUTUAL are TLS origination (<see cref="TlsOrigination"/>), decided before this.
    /// </summary>
    public static ClusterTlsMode TlsMode(ClientTlsMode? mode) => mode switch
    {
        ClientTlsMode.IstioMutual => ClusterTlsMode.IstioMutual,
        ClientTlsMode.Disable => ClusterTlsMode.Disable,
        _ => ClusterTlsMode.Auto,
    };

    private ClusterTlsConfig MeshTls(ClusterTlsMode mode, IEnumerable<WorkloadInstance> instances) => new(
        mode,
        instances.Select(i => PeerAuthentications.IdentityOf(index, i)).Where(i => i is not null).Select(i => i!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList());

    /// <summary>An instance's endpoint, marked for auto mTLS when <see cref="PeerAuthentications.ReachedOverMtls"/>.</summary>
    private EndpointConfig? MeshEndpoint(WorkloadInstance i) =>
        Endpoint(i) is { } endpoint && PeerAuthentications.ReachedOverMtls(index, i) ? endpoint with { Mtls = true } : Endpoint(i);

    /// <summary>Instances are reached through their proxy's inbound listener; one without a proxy directly.</summary>
    public static EndpointConfig? Endpoint(WorkloadInstance i)
    {
        var port = i.Ports.TryGetValue(WorkloadInstance.InboundPort, out var inbound) ? inbound
            : i.Ports.TryGetValue(WorkloadInstance.AppPort, out var app) ? app
            : 0;
        return port == 0 ? null : new EndpointConfig(i.Host, port, i.Labels, i.Workload, i.Namespace, Pod: i.Id);
    }
}
