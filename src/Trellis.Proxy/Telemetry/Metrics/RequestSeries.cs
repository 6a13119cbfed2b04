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
internal readonly record struct RequestKey(
    Reporter Reporter,
    int Source,
    int Destination,
    int Service,
    int Status,
    int GrpcStatus,
    ResponseFlags Flags,
    RequestProtocol Protocol,
    bool MutualTls)
{
    public bool Equals(RequestKey other) =>
        Source == other.Source && Destination == other.Destination && Service == other.Service && Status == other.Status
        && GrpcStatus == other.GrpcStatus && Flags == other.Flags && Reporter == other.Reporter && Protocol == other.Protocol
        && MutualTls == other.MutualTls;

    public override int GetHashCode() =>
        HashCode.Combine(Source, Destination, Service, Status, GrpcStatus, (int)Flags, ((int)Reporter << 16) | ((int)Protocol << 8) | (MutualTls ? 1 : 0));
}

/// <summary>The counters of one label set of the request metrics; updated lock-free by any number of requests.</summary>
internal sealed class RequestSeries
{
    private long _requests;

    private readonly EdgeWindow? _window;
    private readonly bool _success;
    private readonly bool _mutualTls;

    /// <param name="window">The live views' window of the series's edge; null when none is kept (tests).</param>
    public RequestSeries(string labels, EdgeWindow? window = null, bool success = true, bool mutualTls = false)
    {
        Labels = labels;
        _window = window;
        _success = success;
        _mutualTls = mutualTls;
    }

    /// <summary>
    /// Linkerd's success for the live views: an answer, not a 5xx, and for gRPC status OK (the label set says it all,
    /// so it is decided once per series).
    /// </summary>
    public static bool Succeeded(in RequestKey key) => key.Status is > 0 and < 500 && key.GrpcStatus <= 0;

    /// <summary>The label text between the braces, built once when the series is first met.</summary>
    public string Labels { get; }

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
