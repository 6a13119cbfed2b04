using System.Text.Json.Serialization;

namespace Trellis.Api.Networking;

/// <summary>
/// Istio <c>ServiceEntry</c>: adds a service (usually outside the mesh) to the registry. See istio/api
/// <c>service_entry.proto</c>.
/// </summary>
public sealed record ServiceEntrySpec
{
    public required IReadOnlyList<string> Hosts { get; init; }

    public IReadOnlyList<string> Addresses { get; init; } = [];

    public IReadOnlyList<Port> Ports { get; init; } = [];

    public ServiceEntryLocation? Location { get; init; }

    public ServiceEntryResolution? Resolution { get; init; }

    public IReadOnlyList<WorkloadEntry> Endpoints { get; init; } = [];

    public WorkloadSelector? WorkloadSelector { get; init; }

    public IReadOnlyList<string> ExportTo { get; init; } = [];

    public IReadOnlyList<string> SubjectAltNames { get; init; } = [];
}

/// <summary>One endpoint of a ServiceEntry.</summary>
public sealed record WorkloadEntry
{
    public string? Address { get; init; }

    /// <summary>Service port name → endpoint port.</summary>
    public IReadOnlyDictionary<string, int> Ports { get; init; } = new Dictionary<string, int>();

    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    public string? Network { get; init; }

    public string? Locality { get; init; }

    public int? Weight { get; init; }

    public string? ServiceAccount { get; init; }
}

public enum ServiceEntryLocation
{
    [JsonStringEnumMemberName("MESH_EXTERNAL")]
    MeshExternal,
    [JsonStringEnumMemberName("MESH_INTERNAL")]
    MeshInternal,
}

public enum ServiceEntryResolution
{
    [JsonStringEnumMemberName("NONE")]
    None,
    [JsonStringEnumMemberName("STATIC")]
    Static,
    [JsonStringEnumMemberName("DNS")]
    Dns,
    [JsonStringEnumMemberName("DNS_ROUND_ROBIN")]
    DnsRoundRobin,
}
