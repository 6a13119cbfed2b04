using Trellis.Api.Networking;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// The TCP destinations a workload's outbound listener reaches when a client names one (an HTTP <c>CONNECT host:port</c>
/// through <c>HTTPS_PROXY</c>, a captured connection's original address): every opaque (TCP or TLS) port of the Services
/// and ServiceEntry hosts in its view, relayed by the same routes as that port's reserved listener
/// (<see cref="TcpRoutes.Mesh"/>, <see cref="TcpRoutes.Entry"/>), a ServiceEntry's <c>addresses</c> on its opaque ports
/// (<see cref="TcpRoutes.EntryAddress"/>), and for any other destination the outbound traffic
/// policy: <c>PassthroughCluster</c> (<c>ALLOW_ANY</c>) or <c>BlackHoleCluster</c> (<c>REGISTRY_ONLY</c>). See docs/egress.md.
/// </summary>
internal static class TcpDestinations
{
    /// <summary>Istio's name for the cluster REGISTRY_ONLY sends unknown TCP destinations to: no endpoints, so refused.</summary>
    public const string BlackHole = "BlackHoleCluster";

    public static TcpDestinationsConfig For(MeshIndex index, ClusterSet clusters, TrafficSource source, OutboundView view)
    {
        var destinations = new List<TcpDestinationConfig>();
        foreach (var service in index.Services.Values.OrderBy(s => s.Fqdn, StringComparer.Ordinal))
        {
            foreach (var port in service.Ports)
            {
                if (TcpRoutes.IsOpaque(service.ProtocolOf(port)) && view.Sees(service.Namespace, service.Fqdn, port))
                {
                    destinations.Add(new TcpDestinationConfig(
                        SnapshotCompiler.Names(service, source.Namespace), port, new TcpProxyConfig(TcpRoutes.Mesh(index, clusters, source, service, port))));
                }
            }
        }

        foreach (var entry in index.EntryHosts.Values.OrderBy(e => e.Host, StringComparer.Ordinal))
        {
            foreach (var port in entry.Ports.Distinct())
            {
                if (TcpRoutes.IsOpaque(entry.ProtocolOf(port)) && view.Sees(entry.Namespace, entry.Host, port))
                {
                    destinations.Add(new TcpDestinationConfig([entry.Host], port, TcpRoutes.Entry(index, clusters, source, [entry], port)));
                }
            }
        }

        // ServiceEntry addresses (VIPs, CIDR blocks): per entry, its opaque ports to its first host in the view.
        foreach (var entry in index.EntryHosts.Values.Where(e => e.Spec.Addresses.Count > 0).GroupBy(e => (e.Namespace, e.Name)).OrderBy(g => g.Key))
        {
            var first = entry.First().Spec.Hosts.Select(h => entry.FirstOrDefault(e => e.Host == ServiceEntries.HostOf(h))).FirstOrDefault(e => e is not null)!;
            foreach (var port in first.Ports.Distinct())
            {
                if (TcpRoutes.IsOpaque(first.ProtocolOf(port)) && view.Sees(first.Namespace, first.Host, port))
                {
                    destinations.Add(new TcpDestinationConfig([], port, TcpRoutes.EntryAddress(index, clusters, source, first, port), [.. first.Spec.Addresses]));
                }
            }
        }

        var otherwise = view.Mode == OutboundMode.RegistryOnly ? clusters.Unreachable(BlackHole) : clusters.Passthrough();
        return new TcpDestinationsConfig(destinations, otherwise);
    }
}
