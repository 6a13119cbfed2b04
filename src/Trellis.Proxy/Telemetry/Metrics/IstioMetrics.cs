using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Trellis.Proxy.Pipeline;

namespace Trellis.Proxy.Telemetry.Metrics;

/// <summary>
/// Istio's standard request metrics of one proxy (https://istio.io/latest/docs/reference/config/metrics/):
/// <c>istio_requests_total</c>, <c>istio_request_duration_milliseconds</c>, <c>istio_request_bytes</c> and
/// <c>istio_response_bytes</c>, with Istio's labels in Istio's order, so that Istio's Grafana dashboards and Kiali
/// read them unchanged. A request finds its series by a <see cref="RequestKey"/> of interned numbers and updates it
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

    /// <summary>Istio's TCP metrics, labelled from the same peers and services.</summary>
    public TcpMetrics Tcp { get; }

    public IstioMetrics() => Tcp = new TcpMetrics(Peers, Services);

    /// <summary>Counts one finished request. Allocates only the first time a label set is seen.</summary>
    /// <param name="second">The clock's current second (the live views' window).</param>
    public void Record(in RequestKey key, long durationMicros, long requestBytes, long responseBytes, long second)
    {
        if (!_requests.TryGetValue(key, out var series))
        {
            series = _requests.GetOrAdd(
                key, static (k, self) => new RequestSeries(self.LabelText(k), self.Edges.For(k), RequestSeries.Succeeded(k), k.MutualTls), this);
        }

        series.Record(durationMicros, requestBytes, responseBytes, second);
    }

    /// <summary>The series of <paramref name="key"/>, if any request had it (tests, live views).</summary>
    public RequestSeries? Find(in RequestKey key) => _requests.TryGetValue(key, out var series) ? series : null;

    /// <summary>Every series with its key (live views aggregate them).</summary>
    public IEnumerable<KeyValuePair<RequestKey, RequestSeries>> Series => _requests;

    /// <summary>All four families, each whole, series in a stable order.</summary>
    public void Write(PrometheusWriter writer)
    {
        var series = _requests.Values.OrderBy(s => s.Labels, StringComparer.Ordinal).ToArray();
        writer.Family(RequestsTotal, "counter", "Requests handled by an Istio proxy (Trellis).");
        foreach (var s in series)
        {
            writer.Sample(RequestsTotal, s.Labels, s.Requests);
        }

        WriteHistograms(writer, series, RequestDuration, "Duration of requests, from the first request byte to the last response byte, in milliseconds.", s => s.Duration);
        WriteHistograms(writer, series, RequestBytes, "Request sizes (head and body), in bytes.", s => s.RequestBytes);
        WriteHistograms(writer, series, ResponseBytes, "Response sizes (head and body), in bytes.", s => s.ResponseBytes);
        Tcp.Write(writer);
    }

    private static void WriteHistograms(PrometheusWriter writer, RequestSeries[] series, string name, string help, Func<RequestSeries, FixedHistogram> pick)
    {
        writer.Family(name, "histogram", help);
        Span<long> counts = stackalloc long[HistogramLayout.IstioDefaultBuckets.Count + 1];
        foreach (var s in series)
        {
            var histogram = pick(s);
            var sum = histogram.Read(counts);
            writer.Histogram(name, s.Labels, histogram.Layout, counts, sum);
        }
    }

    /// <summary>Istio's label set of a request series, in the order Istio's stats plugin writes it.</summary>
    private string LabelText(RequestKey key)
    {
        var text = new StringBuilder(640);
        AppendPeers(text, key.Reporter, Peers[key.Source], Peers[key.Destination], Services[key.Service]);
        PrometheusWriter.Label(text, "request_protocol", key.Protocol == RequestProtocol.Grpc ? "grpc" : "http");
        PrometheusWriter.Label(text, "response_code", key.Status.ToString(CultureInfo.InvariantCulture));
        PrometheusWriter.Label(text, "grpc_response_status", key.GrpcStatus < 0 ? string.Empty : key.GrpcStatus.ToString(CultureInfo.InvariantCulture));
        PrometheusWriter.Label(text, "response_flags", key.Flags.ToShortString());
        // Istio: a source reporter cannot know the server's policy ("unknown"); a destination reporter knows whether
        // the connection was mutual TLS.
        PrometheusWriter.Label(text, "connection_security_policy", key.Reporter == Reporter.Source ? "unknown" : key.MutualTls ? "mutual_tls" : "none");
        return text.ToString();
    }

    /// <summary>
    /// The labels every Istio metric of a connection or request starts with, in Istio's order: the reporter, the
    /// <c>source_*</c> and <c>destination_*</c> workloads and the destination service. Request and TCP metrics share it.
    /// </summary>
    internal static void AppendPeers(StringBuilder text, Reporter reporter, PeerLabels source, PeerLabels destination, ServiceLabels service)
    {
        PrometheusWriter.Label(text, "reporter", reporter == Reporter.Source ? "source" : "destination");
        PrometheusWriter.Label(text, "source_workload", source.Workload);
        PrometheusWriter.Label(text, "source_canonical_service", source.CanonicalService);
        PrometheusWriter.Label(text, "source_canonical_revision", source.CanonicalRevision);
        PrometheusWriter.Label(text, "source_workload_namespace", source.Namespace);
        PrometheusWriter.Label(text, "source_principal", source.Principal);
        PrometheusWriter.Label(text, "source_app", source.App);
        PrometheusWriter.Label(text, "source_version", source.Version);
        PrometheusWriter.Label(text, "source_cluster", source.Cluster);
        PrometheusWriter.Label(text, "destination_workload", destination.Workload);
        PrometheusWriter.Label(text, "destination_workload_namespace", destination.Namespace);
        PrometheusWriter.Label(text, "destination_principal", destination.Principal);
        PrometheusWriter.Label(text, "destination_app", destination.App);
        PrometheusWriter.Label(text, "destination_version", destination.Version);
        PrometheusWriter.Label(text, "destination_service", service.Host);
        PrometheusWriter.Label(text, "destination_canonical_service", destination.CanonicalService);
        PrometheusWriter.Label(text, "destination_canonical_revision", destination.CanonicalRevision);
        PrometheusWriter.Label(text, "destination_service_name", service.Name);
        PrometheusWriter.Label(text, "destination_service_namespace", service.Namespace);
        PrometheusWriter.Label(text, "destination_cluster", destination.Cluster);
    }
}
