using Trellis.Api.LiveViews;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Telemetry.Live;

/// <summary>What one tap asks for: the requests to and from a workload, optionally of one method and under one path.</summary>
/// <param name="Namespace">Null: the workload in any namespace.</param>
/// <param name="PathPrefix">Null: every path; else paths that start with it (Linkerd's <c>--path</c>).</param>
internal sealed record TapFilter(string Workload, string? Namespace, string? PathPrefix, string? Method)
{
    public bool Matches(PeerLabels self, string method, string path) =>
        string.Equals(self.Workload, Workload, StringComparison.Ordinal)
        && (Namespace is null || string.Equals(self.Namespace, Namespace, StringComparison.Ordinal))
        && (Method is null || string.Equals(method, Method, StringComparison.OrdinalIgnoreCase))
        && (PathPrefix is null || path.StartsWith(PathPrefix, StringComparison.Ordinal));
}

/// <summary>A finished request kept for the taps: references to what the request already had, made only while a tap matches.</summary>
internal sealed record TapRecord(
    DateTimeOffset Time,
    bool Inbound,
    PeerLabels Self,
    PeerLabels Source,
    PeerLabels Destination,
    string Method,
    string Authority,
    string Path,
    int Status,
    int GrpcStatus,
    ResponseFlags Flags,
    long LatencyMicros,
    long RequestBytes,
    long ResponseBytes,
    bool MutualTls,
    Tracing.TraceContext Trace)
{
    public TapEvent ToEvent(long id, string proxy) => new(
        id, proxy, Time, Inbound ? "inbound" : "outbound", Self.Workload, Self.Namespace, Method, Authority, Path, Status,
        GrpcStatus < 0 ? null : GrpcStatus, Flags.ToShortString(), LatencyMicros / 1000.0, RequestBytes, ResponseBytes,
        LiveEdges.Peer(Source), LiveEdges.Peer(Destination), MutualTls, Trace.IsValid ? Trace.TraceIdText() : null);
}

/// <summary>
/// The taps attached to one proxy (Linkerd's tap server in its proxy): while none is, the telemetry stage pays one
/// volatile read per request and keeps nothing; while one is, the requests of the workloads tapped are kept as
/// <see cref="TapRecord"/>s in a bounded ring, which each tap reads from its own cursor (a slow reader misses records, it
/// never slows requests).
/// </summary>
internal sealed class TapHub
{
    public const int Capacity = 4096;

    private readonly Lock _lock = new();
    private TapFilter[] _filters = [];

    public RecordRing<TapRecord> Records { get; } = new(Capacity);

    public bool Attached => Volatile.Read(ref _filters).Length > 0;

    /// <summary>Starts keeping the requests <paramref name="filter"/> matches; disposing the result stops it.</summary>
    public IDisposable Attach(TapFilter filter)
    {
        lock (_lock)
        {
            _filters = [.. _filters, filter];
        }

        return new Detach(this, filter);
    }

    /// <summary>Whether any tap wants a request of the workload <paramref name="self"/>.</summary>
    public bool Wants(PeerLabels self, string method, string path)
    {
        foreach (var filter in Volatile.Read(ref _filters))
        {
            if (filter.Matches(self, method, path))
            {
                return true;
            }
        }

        return false;
    }

    private void Remove(TapFilter filter)
    {
        lock (_lock)
        {
            var index = Array.IndexOf(_filters, filter);
            if (index >= 0)
            {
                _filters = [.. _filters[..index], .. _filters[(index + 1)..]];
            }
        }
    }

    private sealed class Detach(TapHub hub, TapFilter filter) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                hub.Remove(filter);
            }
        }
    }
}
