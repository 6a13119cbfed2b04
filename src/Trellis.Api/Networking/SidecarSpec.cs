using System.Text.Json.Nodes;

namespace Trellis.Api.Networking;

/// <summary>
/// Istio <c>Sidecar</c>: narrows what a workload's proxy listens for and which services it can reach. See istio/api
/// <c>sidecar.proto</c>.
/// </summary>
public sealed record SidecarSpec
{
    public WorkloadSelector? WorkloadSelector { get; init; }

    public IReadOnlyList<IstioIngressListener> Ingress { get; init; } = [];

    public IReadOnlyList<IstioEgressListener> Egress { get; init; } = [];

    public OutboundTrafficPolicy? OutboundTrafficPolicy { get; init; }

    public ConnectionPoolSettings? InboundConnectionPool { get; init; }
}

public sealed record IstioIngressListener
{
    public required Port Port { get; init; }

    public string? Bind { get; init; }

    public string? CaptureMode { get; init; }

    public string? DefaultEndpoint { get; init; }

    public ServerTlsSettings? Tls { get; init; }

    public ConnectionPoolSettings? ConnectionPool { get; init; }
}

public sealed record IstioEgressListener
{
    public Port? Port { get; init; }

    public string? Bind { get; init; }

    public string? CaptureMode { get; init; }

    /// <summary><c>namespace/host</c> entries; <c>./</c> is the sidecar's namespace, <c>*/</c> any.</summary>
    public required IReadOnlyList<string> Hosts { get; init; }
}

public sealed record OutboundTrafficPolicy
{
    /// <summary><c>REGISTRY_ONLY</c> or <c>ALLOW_ANY</c>.</summary>
    public string? Mode { get; init; }

    public JsonNode? EgressProxy { get; init; }
}
