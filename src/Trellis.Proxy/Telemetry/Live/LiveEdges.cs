using System.Collections.Concurrent;
using Trellis.Api.LiveViews;
using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Telemetry.Live;

/// <summary>An edge of the live views: a <see cref="RequestKey"/> without the answer (code, flags, protocol, mTLS).</summary>
internal readonly record struct EdgeKey(Reporter Reporter, int Source, int Destination, int Service);

/// <summary>
/// The <see cref="EdgeWindow"/> of every edge a proxy has counted, for <c>trellis stat</c> and <c>trellis edges</c>.
/// Request series share their edge's window: a series finds it once, when its label set is first met
/// (<see cref="IstioMetrics"/>), so counting a request adds to it without a lookup. Edges live as long as the proxy,
/// as series do.
/// </summary>
internal sealed class LiveEdges
{
    private readonly ConcurrentDictionary<EdgeKey, EdgeWindow> _edges = new();

    public int Count => _edges.Count;

    public EdgeWindow For(in RequestKey key) =>
        _edges.GetOrAdd(new EdgeKey(key.Reporter, key.Source, key.Destination, key.Service), static _ => new EdgeWindow());

    /// <summary>Every edge with requests in the last <paramref name="seconds"/> seconds up to <paramref name="now"/>.</summary>
    public List<LiveEdge> Read(IstioMetrics metrics, long now, int seconds)
    {
        var edges = new List<LiveEdge>();
        var counters = new long[EdgeWindow.Stride];
        foreach (var (key, window) in _edges)
        {
            Array.Clear(counters);
            var requests = window.Read(now, seconds, counters);
            if (requests == 0)
            {
                continue;
            }

            var service = metrics.Services[key.Service];
            edges.Add(new LiveEdge(
                key.Reporter == Reporter.Source ? "source" : "destination",
                Peer(metrics.Peers[key.Source]),
                Peer(metrics.Peers[key.Destination]),
                new LiveService(service.Host, service.Name, service.Namespace),
                requests,
                EdgeWindow.SuccessesOf(counters),
                EdgeWindow.MutualTlsOf(counters),
                counters[..LatencyBuckets.Count]));
        }

        return edges;
    }

    public static LivePeer Peer(PeerLabels peer) => new(peer.Workload, peer.Namespace, peer.App, peer.Version, peer.Principal, peer.CanonicalService, peer.Pod);
}
