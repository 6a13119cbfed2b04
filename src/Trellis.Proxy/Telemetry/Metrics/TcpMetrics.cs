using System.Collections.Concurrent;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Pipeline;

namespace Trellis.Proxy.Telemetry.Metrics;

/// <summary>
/// The labels of one TCP series as numbers (<see cref="Interned{T}"/> ids for the peers and the service), compared
/// field by field so that finding a connection's series allocates nothing.
/// </summary>
/// <param name="Plan">The listener's <see cref="MetricPlan"/> (<see cref="IstioMetrics.Plans"/> id; 0 for Istio's defaults).</param>
internal readonly record struct TcpKey(Reporter Reporter, int Source, int Destination, int Service, ResponseFlags Flags, bool MutualTls, int Plan = 0);

/// <summary>
/// Istio's TCP metrics (https://istio.io/latest/docs/reference/config/metrics/): <c>istio_tcp_connections_opened_total</c>,
/// <c>istio_tcp_connections_closed_total</c>, <c>istio_tcp_sent_bytes_total</c> (bytes sent to the client, the response
/// direction) and <c>istio_tcp_received_bytes_total</c> (bytes received from the client), with the request metrics' peer
/// and service labels (<see cref="SeriesLabels.Peers"/>, one derivation for both), <c>request_protocol="tcp"</c>,
/// <c>response_flags</c> and <c>connection_security_policy</c>. Bytes are added as they are relayed, so a long
/// connection's counts move while it lasts (Istio reports them periodically and at close).
/// </summary>
internal sealed class TcpMetrics(Interned<PeerLabels> peers, Interned<ServiceLabels> services, Interned<MetricPlan> plans)
{
    public const string Opened = "istio_tcp_connections_opened_total";
    public const string Closed = "istio_tcp_connections_closed_total";
    public const string SentBytes = "istio_tcp_sent_bytes_total";
    public const string ReceivedBytes = "istio_tcp_received_bytes_total";

    private readonly ConcurrentDictionary<TcpKey, TcpSeries> _series = new();

    /// <summary>The series of a label set, made the first time it is seen.</summary>
    public TcpSeries Series(in TcpKey key) =>
        _series.TryGetValue(key, out var series) ? series : _series.GetOrAdd(key, static (k, self) => new TcpSeries(self.LabelTexts(k)), this);

    /// <summary>The TCP metrics, in the order of <see cref="TcpSeries.MetricLabels"/>.</summary>
    private static ReadOnlySpan<StandardMetric> TcpFamilies =>
        [StandardMetric.TcpSentBytes, StandardMetric.TcpReceivedBytes, StandardMetric.TcpOpenedConnections, StandardMetric.TcpClosedConnections];

    /// <summary>The series of <paramref name="key"/>, if any connection had it (tests, live views).</summary>
    public TcpSeries? Find(in TcpKey key) => _series.TryGetValue(key, out var series) ? series : null;

    public void Write(PrometheusWriter writer)
    {
        if (_series.IsEmpty)
        {
            return; // a proxy that relayed no TCP shows no TCP families, as Envoy's stats do
        }

        var series = _series.Values.ToArray();
        Family(writer, series, 0, SentBytes, "Bytes sent to the client during TCP connections.", s => s.Sent);
        Family(writer, series, 1, ReceivedBytes, "Bytes received from the client during TCP connections.", s => s.Received);
        Family(writer, series, 2, Opened, "TCP connections opened.", s => s.OpenedCount);
        Family(writer, series, 3, Closed, "TCP connections closed.", s => s.ClosedCount);
    }

    /// <summary>One family; series with equal label texts in it (an override removed what told them apart) are one sample.</summary>
    private static void Family(PrometheusWriter writer, TcpSeries[] series, int metric, string name, string help, Func<TcpSeries, long> value)
    {
        var shown = series.Where(s => s.MetricLabels[metric] is not null).GroupBy(s => s.MetricLabels[metric]!, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        if (shown.Count == 0)
        {
            return; // every series disabled in this metric: no family, as Envoy has no stat
        }

        writer.Family(name, "counter", help);
        foreach (var group in shown)
        {
            writer.Sample(name, group.Key, group.Sum(value));
        }
    }

    private string?[] LabelTexts(TcpKey key)
    {
        var source = peers[key.Source];
        var destination = peers[key.Destination];
        var labels = SeriesLabels.Peers(key.Reporter, source, destination, services[key.Service]);
        labels.Add(new("request_protocol", "tcp"));
        labels.Add(new("response_flags", key.Flags.ToShortString()));
        labels.Add(new("connection_security_policy", key.Reporter == Reporter.Source ? "unknown" : key.MutualTls ? "mutual_tls" : "none"));
        // A connection has no request and no response code: expressions reading them are absent (the label reads "unknown").
        var context = new SeriesLabels.Context(key.Reporter, source, destination, null, null, plans[key.Plan], null, 0);
        return SeriesLabels.For(labels, context, TcpFamilies);
    }
}

/// <summary>The counters of one TCP label set; updated lock-free by any number of connections.</summary>
internal sealed class TcpSeries(string?[] labels)
{
    private long _opened;
    private long _closed;
    private long _sent;
    private long _received;

    /// <summary>The label text of each TCP metric (sent, received, opened, closed); null where the series is not shown.</summary>
    public string?[] MetricLabels { get; } = labels;

    public long OpenedCount => Interlocked.Read(ref _opened);

    public long ClosedCount => Interlocked.Read(ref _closed);

    public long Sent => Interlocked.Read(ref _sent);

    public long Received => Interlocked.Read(ref _received);

    public void Open() => Interlocked.Increment(ref _opened);

    public void Close() => Interlocked.Increment(ref _closed);

    public void AddSent(long bytes) => Interlocked.Add(ref _sent, bytes);

    public void AddReceived(long bytes) => Interlocked.Add(ref _received, bytes);
}
