using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Telemetry;

/// <summary>
/// The telemetry of one proxy: Istio's request metrics, the callers met so far, and the label tables of the current
/// snapshot. <see cref="Record"/> is the per-request work of the telemetry stage for metrics: lookups of precomputed
/// numbers and lock-free adds, no allocation once a label set has been seen.
/// </summary>
internal sealed class ProxyTelemetry
{
    private TelemetryTables _tables = TelemetryTables.Empty;
    // The tables before the last swap: a request routed on the previous snapshot still finds its clusters there.
    private TelemetryTables _previous = TelemetryTables.Empty;

    private readonly Func<int, int> _random;
    private readonly TimeProvider _time;
    private readonly long _frequency;

    /// <param name="random">Trace and span ids and sampling draws (<see cref="ProxyServerOptions.Random"/>).</param>
    /// <param name="time">The clock of the request pipeline: <see cref="Record"/>'s timestamps are read from it.</param>
    public ProxyTelemetry(Func<int, int>? random = null, TimeProvider? time = null)
    {
        _random = random ?? Random.Shared.Next;
        _time = time ?? TimeProvider.System;
        _frequency = _time.TimestampFrequency;
        Peers = new PeerDirectory(Metrics.Peers);
    }

    /// <summary>The taps attached to this proxy (<c>trellis tap</c>, <c>trellis top</c>).</summary>
    public Live.TapHub Taps { get; } = new();

    /// <summary>The recent access-log lines of each workload (<c>trellis logs --proxy</c>).</summary>
    public AccessLogs.AccessLogTails Tails { get; } = new();

    public IstioMetrics Metrics { get; } = new();

    public PeerDirectory Peers { get; }

    /// <summary>The span exporters of this proxy (one per endpoint and workload).</summary>
    public Tracing.SpanExporters Spans { get; } = new();

    /// <summary>The access-log files of this proxy (one writer per path).</summary>
    public AccessLogs.AccessLogSinks AccessLogs { get; } = new();

    /// <summary>The inbound-policy stage's counters (audited requests).</summary>
    public Security.AuthorizationStats Authorization { get; } = new();

    public TelemetryTables Tables => Volatile.Read(ref _tables);

    /// <summary>Whether any listener records anything (metrics, access logs, spans).</summary>
    public bool Active => Volatile.Read(ref _tables).Active;

    /// <summary>Builds the label tables of a snapshot about to be swapped in (the snapshot's compile step).</summary>
    public void OnSnapshot(ProxySnapshot snapshot, CompiledSnapshot compiled)
    {
        var next = TelemetryTables.Build(snapshot, compiled.Clusters, Metrics, AccessLogs, Spans, Tails);
        Volatile.Write(ref _previous, Volatile.Read(ref _tables));
        Volatile.Write(ref _tables, next);
    }

    public ListenerTelemetry? Listener(string name) =>
        Volatile.Read(ref _tables).Listener(name) ?? Volatile.Read(ref _previous).Listener(name);

    /// <summary>
    /// Reads what telemetry needs from a request's head as the pipeline starts (the head may be gone by the end on the
    /// fast paths): this hop's trace context, and for metrics the caller's identity on a server-side listener and the protocol.
    /// </summary>
    public void Begin(ListenerTelemetry listener, in RouteRequest request, ExchangeTelemetry telemetry)
    {
        telemetry.Trace = Tracing.TracePropagation.Continue(request, _random, listener.SamplingPercentage, out telemetry.ParentSpan, out telemetry.TraceState);
        if (listener.AccessLogs.Length > 0)
        {
            telemetry.LogFields = CaptureLogFields(listener, request);
        }

        if (!listener.Metrics)
        {
            return;
        }

        Span<char> scratch = stackalloc char[PeerMetadata.MaxEncodedLength];
        if (listener.Reporter == Reporter.Destination)
        {
            var length = request.CopyHeader(PeerMetadata.Header, scratch);
            telemetry.Peer = length > 0 ? Peers.Resolve(scratch[..length]) : 0;
        }

        telemetry.Protocol = IsGrpc(request, scratch) ? RequestProtocol.Grpc : RequestProtocol.Http;
        telemetry.Captured = Metrics.Captures.Capture(listener.Plan.Captured, request);
        telemetry.PeerHeader = listener.PeerHeader;
        telemetry.PeerIdHeader = listener.PeerIdHeader;
    }

    /// <summary>
    /// Counts one finished request of <paramref name="listener"/> in Istio's request metrics (and with them in the live
    /// views' windows), and hands it to the taps that want it.
    /// </summary>
    /// <param name="now">A timestamp of the clock given at construction, read as the request ended.</param>
    public void Record(ListenerTelemetry listener, in RouteRequest request, ExchangeTelemetry telemetry, in ExchangeOutcome outcome, TimeSpan elapsed, long now)
    {
        int source, destination, service;
        if (listener.Reporter == Reporter.Source)
        {
            source = listener.Self;
            destination = outcome.Endpoint is { } endpoint ? PeerOf(endpoint) : 0;
            service = outcome.Cluster is { } cluster ? ServiceOf(cluster.Name) : 0;
        }
        else
        {
            source = telemetry.Peer;
            destination = listener.Self;
            service = listener.ServiceFor(request.Host);
            if (telemetry.MutualTlsPeer is { } peer)
            {
                source = Peers.WithPrincipal(source, peer.SpiffeId);
                destination = listener.SelfMutualTls;
            }
        }

        var key = new RequestKey(
            listener.Reporter, source, destination, service, outcome.Status, telemetry.GrpcStatus, outcome.Flags, telemetry.Protocol,
            MutualTls: listener.Reporter == Reporter.Destination && telemetry.MutualTlsPeer is not null, listener.PlanId, telemetry.Captured);
        var micros = elapsed.Ticks / (TimeSpan.TicksPerMillisecond / 1000);
        Metrics.Record(key, micros, telemetry.RequestBytes, telemetry.ResponseBytes, now / _frequency);
        if (Taps.Attached)
        {
            Tap(listener, request, telemetry, key, micros);
        }
    }

    /// <summary>Keeps the request for the taps when one wants it (only while a tap is attached: this allocates).</summary>
    private void Tap(ListenerTelemetry listener, in RouteRequest request, ExchangeTelemetry telemetry, in RequestKey key, long micros)
    {
        var self = Metrics.Peers[listener.Self];
        if (!Taps.Wants(self, request.Method, request.Path))
        {
            return;
        }

        var path = request.Query is { Length: > 0 } query ? request.Path + (query[0] == '?' ? query : "?" + query) : request.Path;
        Taps.Records.Append(new Live.TapRecord(
            _time.GetUtcNow(), listener.Reporter == Reporter.Destination, self, Metrics.Peers[key.Source], Metrics.Peers[key.Destination],
            request.Method, request.Authority, path, key.Status, key.GrpcStatus, key.Flags, micros, telemetry.RequestBytes, telemetry.ResponseBytes,
            key.MutualTls, telemetry.Trace));
    }

    /// <summary>
    /// This proxy's edges with requests in the last <paramref name="seconds"/> seconds (1 to
    /// <see cref="Live.EdgeWindow.MaxWindowSeconds"/>), and the time they cover: the whole seconds before this one and
    /// the part of this one gone by (<see cref="Live.EdgeWindow.Read"/>).
    /// </summary>
    public Trellis.Api.LiveViews.ProxyLiveStats LiveStats(int seconds, string proxy)
    {
        var now = _time.GetTimestamp();
        var second = now / _frequency;
        var covered = seconds + ((double)(now % _frequency) / _frequency);
        return new Trellis.Api.LiveViews.ProxyLiveStats(proxy, covered, Metrics.Edges.Read(Metrics, second, seconds));
    }

    /// <summary>The request fields the listener's access logs read, while the head is there (an access log allocates; metrics do not).</summary>
    private static Dictionary<string, string> CaptureLogFields(ListenerTelemetry listener, in RouteRequest request)
    {
        var fields = new Dictionary<string, string>(listener.LogHeaders.Length + 3, StringComparer.Ordinal)
        {
            [":method"] = request.Method,
            [":path"] = request.Query is { Length: > 0 } query ? request.Path + (query[0] == '?' ? query : "?" + query) : request.Path,
            [":authority"] = request.Authority,
        };
        foreach (var name in listener.LogHeaders)
        {
            if (name[0] != ':' && request.TryGetHeader(name, out var value))
            {
                fields[name] = value;
            }
        }

        return fields;
    }

    /// <summary>
    /// The name of a request's span, Envoy's <c>HOST:PORT/*</c> of the destination service: on the client side (outbound,
    /// gateway) the service and port of the cluster the request went to, whatever port the client addressed (a gateway's
    /// own port is not the service's); on the server side the service the Host names and the port the caller addressed.
    /// The authority when no service is known.
    /// </summary>
    public string SpanName(ListenerTelemetry listener, in RouteRequest request, in ExchangeOutcome outcome)
    {
        int service, port = 0;
        if (listener.Reporter == Reporter.Source)
        {
            service = outcome.Cluster is { } cluster ? ServiceOf(cluster.Name) : 0;
            if (outcome.Cluster is { } target && !Volatile.Read(ref _tables).TryGetServicePort(target.Name, out port))
            {
                Volatile.Read(ref _previous).TryGetServicePort(target.Name, out port);
            }
        }
        else
        {
            service = listener.ServiceFor(request.Host);
        }

        return Tracing.ProxySpans.Name(service == 0 ? null : Metrics.Services[service].Host, port > 0 ? port : request.Port, request.Authority);
    }

    /// <summary>Istio's <c>request_protocol</c> is <c>grpc</c> for a request whose content type is <c>application/grpc</c> (with or without a suffix).</summary>
    private static bool IsGrpc(in RouteRequest request, Span<char> scratch)
    {
        var length = request.CopyHeader("content-type", scratch);
        return length >= 16 && scratch[..16].Equals("application/grpc", StringComparison.OrdinalIgnoreCase)
            && (length == 16 || scratch[16] is '+' or ';');
    }

    private int PeerOf(EndpointState endpoint) =>
        Volatile.Read(ref _tables).TryGetPeer(endpoint, out var id) || Volatile.Read(ref _previous).TryGetPeer(endpoint, out id) ? id : 0;

    private int ServiceOf(string cluster) =>
        Volatile.Read(ref _tables).TryGetService(cluster, out var id) || Volatile.Read(ref _previous).TryGetService(cluster, out id) ? id : 0;

    /// <summary>The Prometheus text of every family this proxy serves at <c>/stats/prometheus</c>.</summary>
    public string Prometheus()
    {
        var writer = new PrometheusWriter();
        Metrics.Write(writer);
        AccessLogs.Write(writer);
        Authorization.Write(writer);
        return writer.ToString();
    }
}
