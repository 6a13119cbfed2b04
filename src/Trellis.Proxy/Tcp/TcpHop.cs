using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Telemetry;
using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Tcp;

/// <summary>
/// One relayed connection's facts the steps share: where it came (listener, route), as whom it goes on (the listener's
/// workload identity), whether it came over mesh mTLS, and its telemetry.
/// </summary>
/// <param name="Source">The SPIFFE ID the relay speaks mesh mTLS as upstream; null: cleartext only.</param>
/// <param name="MutualIn">The client's side was mesh mTLS (an inbound relay terminated it).</param>
internal sealed record TcpHop(string Listener, string Route, string? Source, bool MutualIn, TcpServices Services, ListenerTelemetry? Telemetry, long Started)
{
    /// <summary>Counts a connection refused before any byte moved: opened and closed at once with its flag.</summary>
    public void Count(ClusterState? cluster, EndpointState? endpoint, ResponseFlags flags, bool mutualOut)
    {
        var series = Series(cluster, endpoint, flags, mutualOut);
        series?.Open();
        series?.Close();
    }

    /// <summary>
    /// The connection's series: on an outbound or gateway listener (reporter source) the listener's workload to the
    /// endpoint's, for the cluster's service, mutual when the upstream side speaks mesh mTLS; on an inbound listener
    /// (reporter destination) an unknown source (no peer metadata is exchanged on TCP) to the listener's workload, for the
    /// instance's first service, mutual when the client's side did. Null when the listener's metrics are off.
    /// </summary>
    public TcpSeries? Series(ClusterState? cluster, EndpointState? endpoint, ResponseFlags flags, bool mutualOut)
    {
        if (Telemetry is not { Metrics: true } listener)
        {
            return null;
        }

        var tables = Services.Telemetry.Tables;
        TcpKey key;
        if (listener.Reporter == Reporter.Source)
        {
            var destination = endpoint is not null && tables.TryGetPeer(endpoint, out var peer) ? peer : 0;
            var service = cluster is not null && tables.TryGetService(cluster.Name, out var id) ? id : 0;
            key = new TcpKey(Reporter.Source, listener.Self, destination, service, flags, mutualOut, listener.PlanId);
        }
        else
        {
            key = new TcpKey(Reporter.Destination, 0, listener.Self, listener.ServiceFor(default), flags, MutualIn, listener.PlanId);
        }

        return Services.Telemetry.Metrics.Tcp.Series(key);
    }
}
