using Trellis.Api.Snapshots;
using Trellis.Proxy.Telemetry.AccessLogs;
using Trellis.Proxy.Telemetry.Metrics;

namespace Trellis.Proxy.Telemetry;

/// <summary>
/// What telemetry knows of one listener, built once per snapshot: whether it reports as the source (outbound,
/// gateway) or the destination (inbound), the workload it speaks for, the services that may be the destination of its
/// requests, the metadata-exchange header it adds to requests it sends, and the Telemetry API's settings.
/// </summary>
internal sealed class ListenerTelemetry
{
    private readonly (int Id, string Name, string Qualified, string WithSvc, string Host)[] _services;

    /// <param name="tails">Where each workload's access-log lines are kept for <c>trellis logs --proxy</c>; null for nowhere.</param>
    public ListenerTelemetry(ListenerConfig config, IstioMetrics metrics, AccessLogSinks? sinks = null, Tracing.SpanExporters? spans = null, AccessLogTails? tails = null)
    {
        Name = config.Name;
        Reporter = config.Kind == ListenerKind.Inbound ? Reporter.Destination : Reporter.Source;
        Self = metrics.Peers.Id(PeerLabels.From(config.Peer));
        // Over mTLS the workload's own certificate names it: Istio's destination_principal.
        SelfMutualTls = config.Identity is { } identity ? metrics.Peers.Id(PeerLabels.From(config.Peer) with { Principal = identity }) : Self;
        _services = (config.Services ?? [])
            .Select(s => (metrics.Services.Id(ServiceLabels.From(s)), s.Name, $"{s.Name}.{s.Namespace}", $"{s.Name}.{s.Namespace}.svc", s.Host))
            .ToArray();
        Config = config.Telemetry ?? new ListenerTelemetryConfig();
        Plan = MetricPlan.From(Config.MetricOverrides);
        PlanId = metrics.Plans.Id(Plan);
        var self = PeerLabels.From(config.Peer);
        var tail = tails is not null && Config.AccessLogs is { Count: > 0 } ? tails.For(self.Workload, self.Namespace) : null;
        AccessLogs = sinks is null ? [] : (Config.AccessLogs ?? []).Select(l => ListenerAccessLog.From(l, sinks, tail)).ToArray();
        LogHeaders = AccessLogs.SelectMany(l => l.RequestHeaders).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        Address = config.Address;
        SelfLabels = self;
        // Istio names a workload in traces CANONICAL_SERVICE.NAMESPACE (istio-ingressgateway.istio-system).
        Spans = spans is not null && Config.Tracing is { Endpoint: { } endpoint } tracing
            ? spans.For(endpoint, tracing.Protocol, self.Namespace == PeerLabels.Unknown ? self.CanonicalService : $"{self.CanonicalService}.{self.Namespace}")
            : null;
        // A client-side proxy tells the server side who calls (Istio's metadata exchange); the server side never does.
        PeerHeader = Reporter == Reporter.Source && config.Peer is { } peer ? PeerMetadata.Encode(peer) : null;
        PeerIdHeader = PeerHeader is null ? null : PeerMetadata.Id(config.Peer!, config.Address);
    }

    public string Name { get; }

    public Reporter Reporter { get; }

    /// <summary>The <see cref="IstioMetrics.Peers"/> id of the workload the listener speaks for.</summary>
    public int Self { get; }

    /// <summary><see cref="Self"/> with the workload's SPIFFE ID as its principal, for requests that arrived over mTLS.</summary>
    public int SelfMutualTls { get; }

    public ListenerTelemetryConfig Config { get; }

    public bool Metrics => Config.Metrics;

    /// <summary>The Telemetry API's metric overrides of this listener (<see cref="MetricPlan.Default"/> for Istio's defaults).</summary>
    public MetricPlan Plan { get; }

    /// <summary><see cref="Plan"/>'s number in <see cref="IstioMetrics.Plans"/>, part of every series key of the listener.</summary>
    public int PlanId { get; }

    /// <summary>The access logs every request of this listener goes to (the Telemetry API's, else the mesh's); empty for none.</summary>
    public ListenerAccessLog[] AccessLogs { get; }

    /// <summary>The request headers the access logs read, captured as the request starts.</summary>
    public string[] LogHeaders { get; }

    /// <summary>The listener's address (Envoy's <c>%DOWNSTREAM_LOCAL_ADDRESS%</c> with the port the request came to).</summary>
    public string Address { get; }

    /// <summary>The workload's labels (the tags of its spans).</summary>
    public PeerLabels SelfLabels { get; }

    /// <summary>Where the spans of this listener go; null when no tracing provider applies.</summary>
    public Tracing.SpanExporter? Spans { get; }

    /// <summary>Whether the telemetry stage has anything to do for this listener.</summary>
    public bool Active => Metrics || Config.Tracing is not null || AccessLogs.Length > 0;

    /// <summary>Share of new traces sampled, in percent: the Telemetry API's setting, else Istio's default of 1 %.</summary>
    public double SamplingPercentage => Config.Tracing?.SamplingPercentage ?? 1.0;

    /// <summary>The <c>x-envoy-peer-metadata</c> value requests from this listener carry upstream; null on inbound listeners.</summary>
    public string? PeerHeader { get; }

    public string? PeerIdHeader { get; }

    /// <summary>
    /// The destination service of a request to an inbound listener: the one the request's Host names (short name,
    /// <c>name.namespace</c>, <c>name.namespace.svc</c> or the full host), else the first that selects the instance.
    /// </summary>
    public int ServiceFor(ReadOnlySpan<char> host)
    {
        var services = _services;
        if (services.Length <= 1)
        {
            return services.Length == 0 ? 0 : services[0].Id;
        }

        foreach (var (id, name, qualified, withSvc, full) in services)
        {
            if (host.Equals(name, StringComparison.OrdinalIgnoreCase) || host.Equals(full, StringComparison.OrdinalIgnoreCase)
                || host.Equals(qualified, StringComparison.OrdinalIgnoreCase) || host.Equals(withSvc, StringComparison.OrdinalIgnoreCase))
            {
                return id;
            }
        }

        return services[0].Id;
    }
}
