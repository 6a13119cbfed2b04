using Trellis.Api.Networking;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>One host a ServiceEntry adds to the registry, with the entry that defines it.</summary>
/// <param name="Host">As written, lowercased (Istio does not qualify ServiceEntry hosts); may start with <c>*</c>.</param>
internal sealed record EntryHost(string Host, string Name, string Namespace, ServiceEntrySpec Spec)
{
    public ServiceEntryResolution Resolution => Spec.Resolution ?? ServiceEntryResolution.None;

    public IEnumerable<int> Ports => Spec.Ports.Select(p => p.Number);

    public Port? Port(int number) => Spec.Ports.FirstOrDefault(p => p.Number == number);

    public PortProtocol ProtocolOf(int number) => PortProtocols.Parse(Port(number)?.Protocol);
}

/// <summary>
/// ServiceEntries as registry hosts and clusters, as pilot's <c>serviceentry</c> controller converts them: each host is a
/// service of the entry's ports; endpoints by <c>resolution</c>: <c>STATIC</c> the entry's <c>endpoints</c> (IP
/// addresses) or the mesh instances its <c>workloadSelector</c> selects; <c>DNS</c> and <c>DNS_ROUND_ROBIN</c> the
/// endpoints' names (or the host itself when there are none), resolved by the proxy when it connects; <c>NONE</c> no
/// endpoints at all: the request goes where its client sent it (<see cref="LoadBalancerKind.Passthrough"/>, Envoy's
/// ORIGINAL_DST).
/// </summary>
internal static class ServiceEntries
{
    /// <summary>
    /// Hosts of <paramref name="entries"/> (oldest first); a host that a Kubernetes Service or an older entry already
    /// defines keeps that definition (Istio reports such conflicts; the older one serves).
    /// </summary>
    public static IReadOnlyDictionary<string, EntryHost> Hosts(IReadOnlyList<Scoped<ServiceEntrySpec>> entries, IReadOnlyDictionary<string, MeshService> services)
    {
        var hosts = new Dictionary<string, EntryHost>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in entries)
        {
            foreach (var written in entry.Spec.Hosts)
            {
                var host = HostOf(written);
                if (host.Length > 0 && !services.ContainsKey(host))
                {
                    hosts.TryAdd(host, new EntryHost(host, entry.Name, entry.Namespace, entry.Spec));
                }
            }
        }

        return hosts;
    }

    /// <summary>A host as an entry writes it, as the registry keys it (no trailing dot, lowercased).</summary>
    public static string HostOf(string written) => written.Trim().TrimEnd('.').ToLowerInvariant();

    /// <summary>The endpoints of one port of <paramref name="entry"/>, narrowed to a subset's labels when given.</summary>
    public static List<EndpointConfig> Endpoints(EntryHost entry, int port, IReadOnlyDictionary<string, string>? subsetLabels, IReadOnlyList<WorkloadInstance> instances)
    {
        var declared = entry.Port(port);
        var target = declared?.TargetPort ?? port;
        var endpoints = new List<EndpointConfig>();
        if (entry.Resolution == ServiceEntryResolution.None)
        {
            return endpoints;
        }

        if (entry.Spec.WorkloadSelector is { } selector)
        {
            // Mesh instances: reached through their proxy's inbound listener, like a Service's.
            foreach (var instance in instances.Where(i => i.Ready && i.Namespace == entry.Namespace && Labels.Selects(selector.Labels, i.Labels)))
            {
                if (ClusterSet.Endpoint(instance) is { } endpoint && (subsetLabels is null || Labels.Selects(subsetLabels, instance.Labels)))
                {
                    endpoints.Add(endpoint);
                }
            }

            return endpoints;
        }

        foreach (var workload in entry.Spec.Endpoints)
        {
            if (workload.Address is not { Length: > 0 } address || address.StartsWith("unix://", StringComparison.Ordinal))
            {
                continue; // Unix sockets are not reached (reported as not enforced); address-less endpoints are other networks'
            }

            if (subsetLabels is null || Labels.Selects(subsetLabels, workload.Labels))
            {
                var endpointPort = declared?.Name is { } name && workload.Ports.TryGetValue(name, out var mapped) ? mapped : target;
                endpoints.Add(new EndpointConfig(address, endpointPort, workload.Labels.Count == 0 ? null : workload.Labels));
            }
        }

        if (entry.Spec.Endpoints.Count == 0 && entry.Resolution is ServiceEntryResolution.Dns or ServiceEntryResolution.DnsRoundRobin
            && !entry.Host.StartsWith('*') && subsetLabels is null or { Count: 0 })
        {
            endpoints.Add(new EndpointConfig(entry.Host, target)); // the host itself, resolved when the proxy connects
        }

        return endpoints;
    }
}
