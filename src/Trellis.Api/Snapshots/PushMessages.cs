using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Trellis.Api.Metering;

namespace Trellis.Api.Snapshots;

public enum ProxyRole
{
    /// <summary>The proxy of all workload instances on one agent's host (inbound and outbound listeners for each).</summary>
    Node,
    /// <summary>An ingress gateway: listeners from <c>Gateway</c> resources whose selector matches its labels.</summary>
    Gateway,
}

/// <summary>First message a proxy sends on its push stream (docs/protocol.md).</summary>
/// <param name="Name">Unique proxy name, e.g. <c>node/local</c> or <c>gateway/ingress</c>.</param>
/// <param name="Node">For <see cref="ProxyRole.Node"/>: the agent node whose instances it serves.</param>
/// <param name="AdminUrl">Where the proxy's admin endpoints answer (route explain); null when it has none.</param>
/// <param name="Labels">A gateway's labels (its Gateways select it by them); on a node proxy, <see cref="CapturePortLabel"/>.</param>
public sealed record ProxyHello(string Name, ProxyRole Role, string? Node, IReadOnlyDictionary<string, string> Labels, string? AdminUrl = null)
{
    /// <summary>A node proxy whose agent captures its workloads' traffic (<c>trellis agent --capture</c>) asks for a capture listener on this port.</summary>
    public const string CapturePortLabel = "capture.trellis.dev/port";
}

/// <summary>A proxy's answer to a pushed snapshot.</summary>
public sealed record ProxyAck(string Version, bool Accepted, IReadOnlyList<string> Errors);

/// <summary>Held requests at a proxy for a revision cluster with no ready instance (the activator's poke, <c>POST /serving/v1/demand</c>).</summary>
public sealed record DemandReport(string Cluster, int Waiting);

/// <summary>A proxy's load sample for one listener, as agents report it every second (<c>POST /serving/v1/load</c>, a JSON array).</summary>
public sealed record LoadReport(string Listener, string Workload, double AverageConcurrency, long Requests, DateTimeOffset From, DateTimeOffset To);

/// <summary>JSON settings shared by both ends of the push protocol and the registry API.</summary>
public static class WireJson
{
    /// <summary>
    /// <see cref="WireJsonContext"/>'s settings, with reflection for the API types it does not
    /// generate code for. The proxy's own traffic (snapshots, hello, ACKs, reports) goes through the
    /// context's generated metadata even here, so both ends read and write it the same way.
    /// </summary>
    public static readonly JsonSerializerOptions Options = CreateOptions();

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(WireJsonContext.Default.Options);
        options.TypeInfoResolverChain.Add(new DefaultJsonTypeInfoResolver());
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        return options;
    }
}

/// <summary>
/// Source-generated JSON for everything a proxy reads and writes: snapshots (push stream and
/// <c>--snapshot</c> files), hello, ACKs, its reports to the control plane and its admin answers (route explain). No reflection, so the
/// Native AOT proxy (<c>trellis-proxy</c>) can be trimmed. The generator walks each root type's
/// members, so a field added to a snapshot record is picked up without touching this list; a new
/// enum type needs its <see cref="CamelCaseEnum{TEnum}"/> line (WireJsonContextTests fails until it has one).
/// </summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    Converters =
    [
        typeof(CamelCaseEnum<ListenerKind>),
        typeof(CamelCaseEnum<HttpProtocols>),
        typeof(CamelCaseEnum<StringMatchKind>),
        typeof(CamelCaseEnum<LoadBalancerKind>),
        typeof(CamelCaseEnum<UpstreamProtocol>),
        typeof(CamelCaseEnum<ProxyRole>),
        typeof(CamelCaseEnum<HashKeyKind>),
        typeof(CamelCaseEnum<HashAlgorithm>),
        typeof(CamelCaseEnum<AccessLogEncoding>),
        typeof(CamelCaseEnum<OtlpProtocol>),
        typeof(CamelCaseEnum<StandardMetric>),
        typeof(CamelCaseEnum<AuthorizationEffect>),
        typeof(CamelCaseEnum<PeerAuthenticationMode>),
        typeof(CamelCaseEnum<ClusterTlsMode>),
    ])]
[JsonSerializable(typeof(ProxySnapshot))]
[JsonSerializable(typeof(ProxyHello))]
[JsonSerializable(typeof(ProxyAck))]
[JsonSerializable(typeof(DemandReport))]
[JsonSerializable(typeof(IReadOnlyList<LoadReport>))]
[JsonSerializable(typeof(MeteringReport))]
[JsonSerializable(typeof(Explain.RouteExplanation))]
[JsonSerializable(typeof(IReadOnlyList<Explain.ClusterStatus>))]
[JsonSerializable(typeof(IReadOnlyList<Explain.ProxyClusters>))]
[JsonSerializable(typeof(LiveViews.ProxyLiveStats))]
[JsonSerializable(typeof(LiveViews.TapEvent))]
[JsonSerializable(typeof(LiveViews.StatReport))]
[JsonSerializable(typeof(LiveViews.EdgesReport))]
[JsonSerializable(typeof(Identity.TrustBundle))]
[JsonSerializable(typeof(Identity.JoinRequest))]
[JsonSerializable(typeof(Identity.WorkloadCertificateRequest))]
[JsonSerializable(typeof(Identity.CertificateResponse))]
public sealed partial class WireJsonContext : JsonSerializerContext;

/// <summary>Enum values as camelCase strings (<c>"roundRobin"</c>), read in any case; the wire's enum format (docs/protocol.md).</summary>
public sealed class CamelCaseEnum<TEnum>() : JsonStringEnumConverter<TEnum>(JsonNamingPolicy.CamelCase)
    where TEnum : struct, Enum;
