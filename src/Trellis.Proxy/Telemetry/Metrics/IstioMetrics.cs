using System.Collections.Concurrent;
using System.Globalization;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Pipeline;

namespace Trellis.Proxy.Telemetry.Metrics;

/// <summary>
/// Istio's standard request metrics of one proxy (https://istio.io/latest/docs/reference/config/metrics/):
/// <c>istio_requests_total</c>, <c>istio_request_duration_milliseconds</c>, <c>istio_request_bytes</c> and
/// <c>istio_response_bytes</c>, with Istio's labels in Istio's order, so that Istio's Grafana dashboards and Kiali
/// read them unchanged, and the Telemetry API's overrides of the listener (<see cref="MetricPlan"/>). A request finds its series by a <see cref="RequestKey"/> of interned numbers and updates it
/// lock-free; only the first request of a new label set builds its label text. Series live as long as the proxy, as
/// Envoy's stats do.
/// </summary>
internal sealed class IstioMetrics
{
    public const string RequestsTotal = "istio_requests_total";
    public const string RequestDuration = "istio_request_duration_milliseconds";
    public const string RequestBytes = "istio_request_bytes";
    public const string ResponseBytes = "istio_response_bytes";

    private readonly ConcurrentDictionary<RequestKey, RequestSeries> _requests = new();

    /// <summary>Workloads on either side of a request, numbered; 0 is <see cref="PeerLabels.None"/>.</summary>
    public Interned<PeerLabels> Peers { get; } = new(PeerLabels.None);

    /// <summary>Destination services, numbered; 0 is <see cref="ServiceLabels.None"/>.</summary>
    public Interned<ServiceLabels> Services { get; } = new(ServiceLabels.None);

    public int SeriesCount => _requests.Count;

    /// <summary>The recent requests of every edge, for the live views; each series adds to its edge's window.</summary>
    public Live.LiveEdges Edges { get; } = new();

    /// <summary>The Telemetry API metric overrides of the listeners, numbered; 0 is <see cref="MetricPlan.Default"/>.</summary>
    public Interned<MetricPlan> Plans { get; } = new(MetricPlan.Default);

    /// <summary>The request attributes tag expressions read, numbered per combination.</summary>
    public RequestCaptures Captures { get; } = new();

    /// <summary>Istio's TCP metrics, labelled from the same peers and services.</summary>
    public TcpMetrics Tcp { get; }

    public IstioMetrics() => Tcp = new TcpMetrics(Peers, Services, Plans);

    /// <summary>The request metrics, in the order of <see cref="RequestSeries.MetricLabels"/>.</summary>
    public static ReadOnlySpan<StandardMetric> RequestMetrics =>
        [StandardMetric.RequestCount, StandardMetric.RequestDuration, StandardMetric.RequestSize, StandardMetric.ResponseSize];

    /// <summary>Counts one finished request. Allocates only the first time a label set is seen.</summary>
    /// <param name="second">The clock's current second (the live views' window).</param>
    public void Record(in RequestKey key, long durationMicros, long requestBytes, long responseBytes, long second)
    {
        if (!_requests.TryGetValue(key, out var series))
        {
            series = _requests.GetOrAdd(
                key, static (k, self) => new RequestSeries(self.LabelTexts(k), self.Edges.For(k), RequestSeries.Succeeded(k), k.MutualTls), this);
        }

        series.Record(durationMicros, requestBytes, responseBytes, second);
    }

    /// <summary>The series of <paramref name="key"/>, if any request had it (tests, live views).</summary>
    public RequestSeries? Find(in RequestKey key) => _requests.TryGetValue(key, out var series) ? series : null;

    /// <summary>Every series with its key (live views aggregate them).</summary>
    public IEnumerable<KeyValuePair<RequestKey, RequestSeries>> Series => _requests;

    /// <summary>
    /// All four families, each whole, series in a stable order; a family no series is shown in is left out. Series whose
    /// label texts are equal in a family (a label removed by an override, pods of one workload, values a tag expression
    /// folds together) are one sample there, their counts added, as Envoy's stats are keyed by their tags.
    /// </summary>
    public void Write(PrometheusWriter writer)
    {
        var series = _requests.Values.ToArray();
        var counted = Grouped(series, 0).ToList();
        if (counted.Count > 0)
        {
            writer.Family(RequestsTotal, "counter", "Requests handled by an Istio proxy (Trellis).");
            foreach (var (labels, members) in counted)
            {
                writer.Sample(RequestsTotal, labels, members.Sum(s => s.Requests));
            }
        }

        WriteHistograms(writer, series, 1, RequestDuration, "Duration of requests, from the first request byte to the last response byte, in milliseconds.", s => s.Duration);
        WriteHistograms(writer, series, 2, RequestBytes, "Request sizes (head and body), in bytes.", s => s.RequestBytes);
        WriteHistograms(writer, series, 3, ResponseBytes, "Response sizes (head and body), in bytes.", s => s.ResponseBytes);
        Tcp.Write(writer);
    }

    /// <summary>The series shown in one metric, by label text, in ordinal order of the text.</summary>
    private static IEnumerable<(string Labels, List<RequestSeries> Members)> Grouped(RequestSeries[] series, int metric) =>
        series.Where(s => s.MetricLabels[metric] is not null)
            .GroupBy(s => s.MetricLabels[metric]!, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (g.Key, g.ToList()));

    /// <summary>One histogram family; none at all when no series is shown in it (no request yet, or the metric disabled), as Envoy has no stat.</summary>
    private static void WriteHistograms(PrometheusWriter writer, RequestSeries[] series, int metric, string name, string help, Func<RequestSeries, FixedHistogram> pick)
    {
        var shown = Grouped(series, metric).ToList();
        if (shown.Count == 0)
        {
            return;
        }

        writer.Family(name, "histogram", help);
        Span<long> counts = stackalloc long[HistogramLayout.IstioDefaultBuckets.Count + 1];
        Span<long> total = stackalloc long[counts.Length];
        foreach (var (labels, members) in shown)
        {
            total.Clear();
            long sum = 0;
            foreach (var member in members)
            {
                sum += pick(member).Read(counts);
                for (var i = 0; i < counts.Length; i++)
                {
                    total[i] += counts[i];
                }
            }

            writer.Histogram(name, labels, pick(members[0]).Layout, total, sum);
        }
    }

    /// <summary>The label text of each request metric of a series: Istio's labels in Istio's order, then the listener's overrides.</summary>
    private string?[] LabelTexts(RequestKey key)
    {
        var source = Peers[key.Source];
        var destination = Peers[key.Destination];
        var labels = SeriesLabels.Peers(key.Reporter, source, destination, Services[key.Service]);
        labels.Add(new("request_protocol", key.Protocol == RequestProtocol.Grpc ? "grpc" : "http"));
        labels.Add(new("response_code", key.Status.ToString(CultureInfo.InvariantCulture)));
        labels.Add(new("grpc_response_status", key.GrpcStatus < 0 ? string.Empty : key.GrpcStatus.ToString(CultureInfo.InvariantCulture)));
        labels.Add(new("response_flags", key.Flags.ToShortString()));
        // Istio: a source reporter cannot know the server's policy ("unknown"); a destination reporter knows whether
        // the connection was mutual TLS.
        labels.Add(new("connection_security_policy", key.Reporter == Reporter.Source ? "unknown" : key.MutualTls ? "mutual_tls" : "none"));
        var context = new SeriesLabels.Context(key.Reporter, source, destination, key.Status, key.GrpcStatus, Plans[key.Plan], Captures, key.Captured);
        return SeriesLabels.For(labels, context, RequestMetrics);
    }
}
