using System.Text.Json.Serialization;
using Trellis.Api.Networking;

namespace Trellis.Api.Security;

/// <summary>Istio <c>PeerAuthentication</c>: whether workloads accept plain text, mTLS, or both.</summary>
public sealed record PeerAuthenticationSpec
{
    public WorkloadLabelSelector? Selector { get; init; }

    public MutualTls? Mtls { get; init; }

    /// <summary>Port number (as text, protobuf JSON map keys are strings) → mode for that port.</summary>
    public IReadOnlyDictionary<string, MutualTls> PortLevelMtls { get; init; } = new Dictionary<string, MutualTls>();
}

public sealed record MutualTls
{
    public MutualTlsMode? Mode { get; init; }
}

public enum MutualTlsMode
{
    [JsonStringEnumMemberName("UNSET")]
    Unset,
    [JsonStringEnumMemberName("DISABLE")]
    Disable,
    [JsonStringEnumMemberName("PERMISSIVE")]
    Permissive,
    [JsonStringEnumMemberName("STRICT")]
    Strict,
}

/// <summary>A Gateway API style reference to the object a policy attaches to instead of a selector.</summary>
public sealed record PolicyTargetReference
{
    public string? Group { get; init; }

    public required string Kind { get; init; }

    public required string Name { get; init; }

    public string? Namespace { get; init; }
}
