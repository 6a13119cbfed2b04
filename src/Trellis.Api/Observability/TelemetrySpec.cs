using System.Text.Json.Serialization;
using Trellis.Api.Networking;
using Trellis.Api.Security;

namespace Trellis.Api.Observability;

/// <summary>
/// Istio <c>Telemetry</c> (telemetry.istio.io/v1, istio/api <c>telemetry/v1/telemetry.proto</c>): access logging,
/// tracing and metrics settings for the whole mesh (no selector, in the root namespace), a namespace (no selector) or
/// the workloads a selector picks. How Trellis resolves and applies them: docs/telemetry.md.
/// </summary>
public sealed record TelemetrySpec
{
    public WorkloadLabelSelector? Selector { get; init; }

    public PolicyTargetReference? TargetRef { get; init; }

    public IReadOnlyList<PolicyTargetReference> TargetRefs { get; init; } = [];

    public IReadOnlyList<TelemetryTracing> Tracing { get; init; } = [];

    public IReadOnlyList<TelemetryMetrics> Metrics { get; init; } = [];

    public IReadOnlyList<TelemetryAccessLogging> AccessLogging { get; init; } = [];
}

/// <summary>A provider of the mesh configuration's <c>extensionProviders</c> (or a built-in one: <c>envoy</c>, <c>prometheus</c>) by name.</summary>
public sealed record ProviderRef
{
    public required string Name { get; init; }
}

/// <summary>Which side of a call a setting applies to (<c>WorkloadMode</c>).</summary>
public enum WorkloadMode
{
    [JsonStringEnumMemberName("CLIENT_AND_SERVER")]
    ClientAndServer,
    [JsonStringEnumMemberName("CLIENT")]
    Client,
    [JsonStringEnumMemberName("SERVER")]
    Server,
}

public sealed record WorkloadModeSelector
{
    public WorkloadMode? Mode { get; init; }
}

public sealed record TelemetryTracing
{
    public WorkloadModeSelector? Match { get; init; }

    public IReadOnlyList<ProviderRef> Providers { get; init; } = [];

    public double? RandomSamplingPercentage { get; init; }

    public bool? DisableSpanReporting { get; init; }

    public IReadOnlyDictionary<string, CustomTag> CustomTags { get; init; } = new Dictionary<string, CustomTag>();

    public bool? UseRequestIdForTraceSampling { get; init; }

    public bool? EnableIstioTags { get; init; }
}

/// <summary>A span attribute: a literal, an environment variable of the proxy, or a request header (exactly one).</summary>
public sealed record CustomTag
{
    public LiteralTag? Literal { get; init; }

    public EnvironmentTag? Environment { get; init; }

    public HeaderTag? Header { get; init; }
}

public sealed record LiteralTag
{
    public string Value { get; init; } = "";
}

public sealed record EnvironmentTag
{
    public required string Name { get; init; }

    public string? DefaultValue { get; init; }
}

public sealed record HeaderTag
{
    public required string Name { get; init; }

    public string? DefaultValue { get; init; }
}

public sealed record TelemetryMetrics
{
    public IReadOnlyList<ProviderRef> Providers { get; init; } = [];

    public IReadOnlyList<MetricsOverrides> Overrides { get; init; } = [];

    public string? ReportingInterval { get; init; }
}

public sealed record MetricsOverrides
{
    public MetricSelector? Match { get; init; }

    public bool? Disabled { get; init; }

    public IReadOnlyDictionary<string, TagOverride> TagOverrides { get; init; } = new Dictionary<string, TagOverride>();
}

public sealed record MetricSelector
{
    public IstioMetric? Metric { get; init; }

    public string? CustomMetric { get; init; }

    public WorkloadMode? Mode { get; init; }
}

public enum IstioMetric
{
    [JsonStringEnumMemberName("ALL_METRICS")]
    AllMetrics,
    [JsonStringEnumMemberName("REQUEST_COUNT")]
    RequestCount,
    [JsonStringEnumMemberName("REQUEST_DURATION")]
    RequestDuration,
    [JsonStringEnumMemberName("REQUEST_SIZE")]
    RequestSize,
    [JsonStringEnumMemberName("RESPONSE_SIZE")]
    ResponseSize,
    [JsonStringEnumMemberName("TCP_OPENED_CONNECTIONS")]
    TcpOpenedConnections,
    [JsonStringEnumMemberName("TCP_CLOSED_CONNECTIONS")]
    TcpClosedConnections,
    [JsonStringEnumMemberName("TCP_SENT_BYTES")]
    TcpSentBytes,
    [JsonStringEnumMemberName("TCP_RECEIVED_BYTES")]
    TcpReceivedBytes,
    [JsonStringEnumMemberName("GRPC_REQUEST_MESSAGES")]
    GrpcRequestMessages,
    [JsonStringEnumMemberName("GRPC_RESPONSE_MESSAGES")]
    GrpcResponseMessages,
}

public sealed record TagOverride
{
    public TagOperation? Operation { get; init; }

    public string? Value { get; init; }
}

public enum TagOperation
{
    [JsonStringEnumMemberName("UPSERT")]
    Upsert,
    [JsonStringEnumMemberName("REMOVE")]
    Remove,
}

public sealed record TelemetryAccessLogging
{
    public WorkloadModeSelector? Match { get; init; }

    public IReadOnlyList<ProviderRef> Providers { get; init; } = [];

    public bool? Disabled { get; init; }

    public AccessLogFilter? Filter { get; init; }
}

/// <summary>A CEL expression a request must match to be logged (the subset Trellis evaluates: <see cref="LogFilterExpression"/>).</summary>
public sealed record AccessLogFilter
{
    public required string Expression { get; init; }
}
