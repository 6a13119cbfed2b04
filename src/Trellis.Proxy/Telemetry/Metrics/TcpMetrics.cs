using System.Collections.Concurrent;
using System.Text;
using Trellis.Proxy.Pipeline;

namespace Trellis.Proxy.Telemetry.Metrics;

/// <summary>
/// The labels of one TCP series as numbers (<see cref="Interned{T}"/> ids for the peers and the service), compared
/// field by field so that finding a connection's series allocates nothing.
/// </summary>
internal readonly record struct TcpKey(Reporter Reporter, int Source, int Destination, int Service, ResponseFlags Flags, bool MutualTls);

/// <summary>
/// Istio's TCP metrics (https://istio.io/latest/docs/reference/config/metrics/): <c>istio_tcp_connections_opened_total</c>,
/// <c>istio_tcp_connections_closed_total</c>, <c>istio_tcp_sent_bytes_total</c> (bytes sent to the client, the response
/// direction) and <c>istio_tcp_received_bytes_total</c> (bytes received from the client), with the request metrics' peer
/// and service labels (<see cref="IstioMetrics.AppendPeers"/>, one derivation for both), <c>request_protocol="tcp"</c>,
/// <c>response_flags</c> and <c>connection_security_policy</c>. Bytes are added as they are relayed, so a long
/// connection's counts move while it lasts (Istio reports them periodically and at close).
/// </summary>
internal sealed class TcpMetrics(Interned<PeerLabels> peers, Interned<ServiceLabels> services)
{
    public const string Opened = "istio_tcp_connections_opened_total";
    public const string Closed = "istio_tcp_connections_closed_total";
    public const string SentBytes = "istio_tcp_sent_bytes_total";
    public const string ReceivedBytes = "istio_tcp_received_bytes_total";

    private readonly ConcurrentDictionary<TcpKey, TcpSeries> _series = new();

    /// <summary>The series of a label set, made the first time it is seen.</summary>
    public TcpSeries Series(in TcpKey key) =>
        _series.TryGetValue(key, out var series) ? series : _series.GetOrAdd(key, static (k, self) => new TcpSeries(self.LabelText(k)), this);

    /// <summary>The series of <paramref name="key"/>, if any connection had it (tests, live views).</summary>
    public TcpSeries? Find(in TcpKey key) => _series.TryGetValue(key, out var series) ? series : null;

    public void Write(PrometheusWriter writer)
    {
        if (_series.IsEmpty)
        {
            return; // a proxy that relayed no TCP shows no TCP families, as Envoy's stats do
        }

        var series = _series.Values.OrderBy(s => s.Labels, StringComparer.Ordinal).ToArray();
        Family(writer, series, SentBytes, "Bytes sent to the client during TCP connections.", s => s.Sent);
        Family(writer, series, ReceivedBytes, "Bytes received from the client during TCP connections.", s => s.Received);
        Family(writer, series, Opened, "TCP connections opened.", s => s.OpenedCount);
        Family(writer, series, Closed, "TCP connections closed.", s => s.ClosedCount);
    }

    private static void Family(PrometheusWriter writer, TcpSeries[] series, string name, string help, Func<TcpSeries, long> value)
    {
        writer.Family(name, "counter", help);
        foreach (var s in series)
        {
            writer.Sample(name, s.Labels, value(s));
        }
    }

    private string LabelText(TcpKey key)
    {
        var text = new StringBuilder(600);
        IstioMetrics.AppendPeers(text, key.Reporter, peers[key.Source], peers[key.Destination], services[key.Service]);
        PrometheusWriter.Label(text, "request_protocol", "tcp");
        PrometheusWriter.Label(text, "response_flags", key.Flags.ToShortString());
        PrometheusWriter.Label(text, "connection_security_policy", key.Reporter == Reporter.Source ? "unknown" : key.MutualTls ? "mutual_tls" : "none");
        return text.ToString();
    }
}

/// <summary>The counters of one TCP label set; updated lock-free by any number of connections.</summary>
internal sealed class TcpSeries(string labels)
{
    private long _opened;
    private long _closed;
    private long _sent;
    private long _received;

    public string Labels { get; } = labels;

    public long OpenedCount => Interlocked.Read(ref _opened);

    public long ClosedCount => Interlocked.Read(ref _closed);

    public long Sent => Interlocked.Read(ref _sent);

    public long Received => Interlocked.Read(ref _received);

    public void Open() => Interlocked.Increment(ref _opened);

    public void Close() => Interlocked.Increment(ref _closed);

    public void AddSent(long bytes) => Interlocked.Add(ref _sent, bytes);

    public void AddReceived(long bytes) => Interlocked.Add(ref _received, bytes);
}
