using Trellis.Api.LiveViews;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Telemetry.Live;

namespace Trellis.Proxy.Telemetry.Metrics;

/// <summary>Who reports a request: the client's proxy (or a gateway) or the server's (Istio's <c>reporter</c> label).</summary>
internal enum Reporter : byte
{
    Source,
    Destination,
}

/// <summary>Istio's <c>request_protocol</c>: <c>grpc</c> for gRPC requests, <c>http</c> for every other HTTP request.</summary>
internal enum RequestProtocol : byte
{
    Http,
    Grpc,
}

/// <summary>
/// The labels of one request series as numbers: the peers and the service are <see cref="Interned{T}"/> ids, the
/// rest small values. A struct compared field by field, so finding a request's series allocates nothing.
/// </summary>
/// <param name="GrpcStatus">-1 when the response carried none (the label is then empty, as Istio writes it).</param>
/// <param name="MutualTls">Whether the request arrived over mTLS (only a destination reporter knows).</param>
/// <param name="Plan">The listener's <see cref="MetricPlan"/> (<see cref="IstioMetrics.Plans"/> id; 0 for Istio's defaults).</param>
/// <param name="Captured">The request attributes the plan's expressions read (<see cref="RequestCaptures"/> number; 0 for none).</param>
internal readonly record struct RequestKey(
    Reporter Reporter,
    int Source,
    int Destination,
    int Service,
    int Status,
    int GrpcStatus,
    ResponseFlags Flags,
    RequestProtocol Protocol,
    bool MutualTls,
    int Plan = 0,
    int Captured = 0)
{
    public bool Equals(RequestKey other) =>
        Source == other.Source && Destination == other.Destination && Service == other.Service && Status == other.Status
        && GrpcStatus == other.GrpcStatus && Flags == other.Flags && Reporter == other.Reporter && Protocol == other.Protocol
        && MutualTls == other.MutualTls && Plan == other.Plan && Captured == other.Captured;

    public override int GetHashCode() =>
        HashCode.Combine(
            Source, Destination, Service, Status, GrpcStatus, (int)Flags, ((int)Reporter << 16) | ((int)Protocol << 8) | (MutualTls ? 1 : 0),
            (Plan << 20) ^ Captured);
}

/// <summary>The counters of one label set of the request metrics; updated lock-free by any number of requests.</summary>
internal sealed class RequestSeries
{
    private long _requests;

    private readonly EdgeWindow? _window;
    private readonly bool _success;
    private readonly bool _mutualTls;

    /// <param name="labels">The label text of each request metric, in <see cref="IstioMetrics.RequestMetrics"/> order; null for one the
    /// listener's overrides disable. One text for all four with Istio's defaults.</param>
    /// <param name="window">The live views' window of the series's edge; null when none is kept (tests).</param>
    public RequestSeries(string?[] labels, EdgeWindow? window = null, bool success = true, bool mutualTls = false)
    {
        MetricLabels = labels;
        Labels = labels.FirstOrDefault(l => l is not null) ?? string.Empty;
        _window = window;
        _success = success;
        _mutualTls = mutualTls;
    }

    /// <summary>
    /// Linkerd's success for the live views: an answer, not a 5xx, and for gRPC status OK (the label set says it all,
    /// so it is decided once per series).
    /// </summary>
    public static bool Succeeded(in RequestKey key) => key.Status is > 0 and < 500 && key.GrpcStatus <= 0;

    /// <summary>The label text between the braces of the first metric that shows the series, built once when it is first met.</summary>
    public string Labels { get; }

    /// <summary>The label text of each request metric; null where the series is not shown.</summary>
    public string?[] MetricLabels { get; }

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary><c>istio_request_duration_milliseconds</c>, recorded in microseconds.</summary>
    public FixedHistogram Duration { get; } = new(HistogramLayout.Milliseconds);

    public FixedHistogram RequestBytes { get; } = new(HistogramLayout.Bytes);

    public FixedHistogram ResponseBytes { get; } = new(HistogramLayout.Bytes);

    /// <param name="second">The clock's current second, for the live views' window.</param>
    public void Record(long durationMicros, long requestBytes, long responseBytes, long second)
    {
        _window?.Record(second, LatencyBuckets.Index(durationMicros), _success, _mutualTls);
        Interlocked.Increment(ref _requests);
        Duration.Record(durationMicros);
        RequestBytes.Record(requestBytes);
        ResponseBytes.Record(responseBytes);
    }
}
