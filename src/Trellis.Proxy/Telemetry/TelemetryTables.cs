using System.Collections.Frozen;
using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Telemetry;

/// <summary>
/// The label sets of one snapshot, precomputed when it is compiled so that a request finds its metric series by
/// reference and number lookups only: listener name to <see cref="ListenerTelemetry"/>, cluster name to its destination
/// service, endpoint to its workload.
/// </summary>
internal sealed class TelemetryTables
{
    public static readonly TelemetryTables Empty = new(
        FrozenDictionary<string, ListenerTelemetry>.Empty, FrozenDictionary<string, (int, int)>.Empty, new Dictionary<EndpointState, int>(ReferenceEqualityComparer.Instance));

    private readonly FrozenDictionary<string, ListenerTelemetry> _listeners;
    // Cluster name to its destination service's id and the service port it targets (0 when not known).
    private readonly FrozenDictionary<string, (int Id, int Port)> _clusterServices;
    private readonly Dictionary<EndpointState, int> _endpointPeers;

    private TelemetryTables(FrozenDictionary<string, ListenerTelemetry> listeners, FrozenDictionary<string, (int, int)> clusterServices, Dictionary<EndpointState, int> endpointPeers)
    {
        _listeners = listeners;
        _clusterServices = clusterServices;
        _endpointPeers = endpointPeers;
        Active = listeners.Values.Any(l => l.Active);
    }

    public bool Active { get; }

    /// <param name="clusters">The compiled clusters of <paramref name="snapshot"/>, whose endpoint states requests carry.</param>
    public static TelemetryTables Build(
        ProxySnapshot snapshot, IReadOnlyDictionary<string, ClusterState> clusters, IstioMetrics metrics, AccessLogs.AccessLogSinks? sinks = null,
        Tracing.SpanExporters? spans = null, AccessLogs.AccessLogTails? tails = null)
    {
        var listeners = (snapshot.Listeners ?? []).ToFrozenDictionary(l => l.Name, l => new ListenerTelemetry(l, metrics, sinks, spans, tails), StringComparer.Ordinal);
        var services = new Dictionary<string, (int, int)>(StringComparer.Ordinal);
        var peers = new Dictionary<EndpointState, int>(ReferenceEqualityComparer.Instance);
        foreach (var config in snapshot.Clusters ?? [])
        {
            services[config.Name] = (metrics.Services.Id(ServiceLabels.From(config.Service)), config.Service?.Port ?? 0);
            if (!clusters.TryGetValue(config.Name, out var state))
            {
                continue;
            }

            foreach (var endpoint in state.Endpoints)
            {
                var match = (config.Endpoints ?? []).FirstOrDefault(e => e.Port == endpoint.Port && string.Equals(e.Address, endpoint.Address, StringComparison.OrdinalIgnoreCase));
                if (match is not null)
                {
                    peers[endpoint] = metrics.Peers.Id(PeerLabels.From(match));
                }
            }
        }

        return new TelemetryTables(listeners, services.ToFrozenDictionary(StringComparer.Ordinal), peers);
    }

    public ListenerTelemetry? Listener(string name) => _listeners.GetValueOrDefault(name);

    public IEnumerable<ListenerTelemetry> Listeners => _listeners.Values;

    /// <summary>The service id of a cluster; false when this snapshot does not have it.</summary>
    public bool TryGetService(string cluster, out int id)
    {
        var found = _clusterServices.TryGetValue(cluster, out var service);
        id = service.Id;
        return found;
    }

    /// <summary>The service port a cluster targets; false when this snapshot does not have the cluster or does not know the port.</summary>
    public bool TryGetServicePort(string cluster, out int port)
    {
        port = _clusterServices.TryGetValue(cluster, out var service) ? service.Port : 0;
        return port > 0;
    }

    public bool TryGetPeer(EndpointState endpoint, out int id) => _endpointPeers.TryGetValue(endpoint, out id);
}
