namespace Trellis.Api.Snapshots;

// What a proxy needs to measure its traffic as Istio does (issue 13): who it speaks for and who is on the other
// side (Istio's peer metadata: workload, namespace, labels), which service a cluster targets, and the Telemetry API's
// settings per listener (access logs, tracing, metrics). All optional members of existing records: a snapshot
// without them is served as before, and its metrics say "unknown" where Istio would.

/// <summary>
/// A workload as Istio's stats plugin sees a peer (the node metadata <c>WORKLOAD_NAME</c>, <c>NAMESPACE</c>,
/// <c>LABELS</c>): the Deployment (or gateway) name, its namespace and its pod labels (<c>app</c>, <c>version</c>,
/// <c>service.istio.io/canonical-name</c>, ...).
/// </summary>
/// <param name="Principal">The SPIFFE identity once mTLS exists (<c>spiffe://cluster.local/ns/NS/sa/SA</c>); null until then.</param>
/// <param name="Pod">The instance (Istio's node <c>NAME</c>, the pod), for <c>trellis edges po</c>; null for a gateway.</param>
public sealed record WorkloadMetadata(
    string Name,
    string Namespace,
    IReadOnlyDictionary<string, string>? Labels = null,
    string? Principal = null,
    string? Pod = null);

/// <summary>A mesh service as Istio's <c>destination_service*</c> labels name it.</summary>
/// <param name="Host">The fully qualified host, e.g. <c>reviews.default.svc.cluster.local</c>.</param>
/// <param name="Port">The service port a cluster targets (a client span is named <c>HOST:PORT/*</c> after it); null when
/// not one port (the services an inbound listener stands for).</param>
public sealed record ServiceMetadata(string Host, string Name, string Namespace, int? Port = null);

/// <summary>
/// The Istio <c>Telemetry</c> resources (telemetry.istio.io/v1) that apply to one listener's workload, resolved by
/// the control plane (workload, then namespace, then mesh: the most specific one wins for each part), with the mesh
/// config's tracing provider.
/// </summary>
/// <param name="AccessLogs">The access logs each request of this listener is written to; null or empty for none.</param>
/// <param name="Tracing">Null: no spans from this listener (trace headers are still propagated, new traces sampled at 1 %).</param>
/// <param name="Metrics">False when a <c>metrics</c> override disables the Prometheus provider for this workload.</param>
/// <param name="MetricOverrides">The Telemetry API's <c>metrics[].overrides</c> for this listener's side, merged (one entry per
/// standard metric that is disabled or has tag overrides); null for Istio's defaults.</param>
public sealed record ListenerTelemetryConfig(
    IReadOnlyList<AccessLogConfig>? AccessLogs = null,
    TracingConfig? Tracing = null,
    bool Metrics = true,
    IReadOnlyList<MetricOverrideConfig>? MetricOverrides = null);

/// <summary>Istio's standard metrics a <c>metrics</c> override may select (<c>MetricSelector.IstioMetric</c>, the ones Trellis counts).</summary>
public enum StandardMetric
{
    /// <summary><c>istio_requests_total</c> (<c>REQUEST_COUNT</c>).</summary>
    RequestCount,

    /// <summary><c>istio_request_duration_milliseconds</c> (<c>REQUEST_DURATION</c>).</summary>
    RequestDuration,

    /// <summary><c>istio_request_bytes</c> (<c>REQUEST_SIZE</c>).</summary>
    RequestSize,

    /// <summary><c>istio_response_bytes</c> (<c>RESPONSE_SIZE</c>).</summary>
    ResponseSize,

    /// <summary><c>istio_tcp_connections_opened_total</c> (<c>TCP_OPENED_CONNECTIONS</c>).</summary>
    TcpOpenedConnections,

    /// <summary><c>istio_tcp_connections_closed_total</c> (<c>TCP_CLOSED_CONNECTIONS</c>).</summary>
    TcpClosedConnections,

    /// <summary><c>istio_tcp_sent_bytes_total</c> (<c>TCP_SENT_BYTES</c>).</summary>
    TcpSentBytes,

    /// <summary><c>istio_tcp_received_bytes_total</c> (<c>TCP_RECEIVED_BYTES</c>).</summary>
    TcpReceivedBytes,
}

/// <summary>One standard metric's settings on a listener, after Istio's merge of every level's overrides.</summary>
/// <param name="Disabled">The metric is not reported.</param>
/// <param name="Tags">Label operations, by label name (ordinal order): a null <see cref="TagOverrideConfig.Value"/> removes the label.</param>
public sealed record MetricOverrideConfig(StandardMetric Metric, bool Disabled = false, IReadOnlyList<TagOverrideConfig>? Tags = null);

/// <param name="Value">The CEL expression of the label's value (<c>UPSERT</c>); null removes the label (<c>REMOVE</c>).</param>
public sealed record TagOverrideConfig(string Name, string? Value);

public enum AccessLogEncoding
{
    /// <summary>Envoy's default text format (<c>[%START_TIME%] "%REQ(:METHOD)% ...</c>), as Istio's <c>TEXT</c> encoding.</summary>
    Text,

    /// <summary>Istio's default JSON access log (<c>meshConfig.accessLogEncoding: JSON</c>).</summary>
    Json,
}

/// <param name="Path">The file the lines go to (<c>/dev/stdout</c> and <c>/dev/stderr</c> are the proxy's own streams).</param>
/// <param name="Encoding">Text or JSON (the mesh's <c>accessLogEncoding</c>).</param>
/// <param name="Format">A custom Envoy format string (<c>meshConfig.accessLogFormat</c>, a provider's <c>logFormat.text</c>);
/// null for the default of the encoding.</param>
/// <param name="JsonFields">JSON keys and their format strings (a provider's <c>logFormat.labels</c>); null for Istio's default keys.</param>
/// <param name="Filter">A Telemetry <c>filter.expression</c> a request must match to be logged; null logs every request.</param>
public sealed record AccessLogConfig(
    string Path = "/dev/stdout",
    AccessLogEncoding Encoding = AccessLogEncoding.Text,
    string? Format = null,
    IReadOnlyDictionary<string, string>? JsonFields = null,
    string? Filter = null);

public enum OtlpProtocol
{
    /// <summary>OTLP over HTTP with protobuf bodies (<c>/v1/traces</c>).</summary>
    HttpProtobuf,

    /// <summary>OTLP over gRPC.</summary>
    Grpc,
}

/// <param name="SamplingPercentage">Random sampling of new traces, 0–100 (the Telemetry API's <c>randomSamplingPercentage</c>;
/// Istio's default 1 %). A request that arrives with a sampling decision keeps it.</param>
/// <param name="Endpoint">Where spans go (the mesh config's <c>extensionProviders[].opentelemetry</c> service and port), e.g.
/// <c>http://127.0.0.1:4318/v1/traces</c>; null when no tracing provider applies (sampling still decides propagation).</param>
/// <param name="CustomTags">Span attributes with literal values (the Telemetry API's <c>customTags[].literal</c>).</param>
/// <param name="HeaderTags">Span attributes from a request header (<c>customTags[].header</c>).</param>
/// <param name="EnvironmentTags">Span attributes from the proxy's environment (<c>customTags[].environment</c>).</param>
public sealed record TracingConfig(
    double SamplingPercentage,
    string? Endpoint = null,
    OtlpProtocol Protocol = OtlpProtocol.HttpProtobuf,
    IReadOnlyDictionary<string, string>? CustomTags = null,
    IReadOnlyDictionary<string, CustomTagSource>? HeaderTags = null,
    IReadOnlyDictionary<string, CustomTagSource>? EnvironmentTags = null);

/// <summary>A header or environment variable a span attribute is read from, and its value when there is none.</summary>
public sealed record CustomTagSource(string Name, string? DefaultValue = null);
