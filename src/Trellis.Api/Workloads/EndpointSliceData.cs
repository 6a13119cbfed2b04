using System.Text.Json.Nodes;

namespace Trellis.Api.Workloads;

/// <summary>
/// Kubernetes <c>discovery.k8s.io/v1 EndpointSlice</c>, for services without a selector whose endpoints are listed
/// by hand; its fields sit at the top level of the document.
/// </summary>
public sealed record EndpointSliceData
{
    /// <summary>IPv4, IPv6 or FQDN.</summary>
    public required string AddressType { get; init; }

    public IReadOnlyList<Endpoint> Endpoints { get; init; } = [];

    public IReadOnlyList<EndpointPort> Ports { get; init; } = [];
}

public sealed record Endpoint
{
    public required IReadOnlyList<string> Addresses { get; init; }

    public EndpointConditions? Conditions { get; init; }

    public string? Hostname { get; init; }

    public string? NodeName { get; init; }

    public string? Zone { get; init; }

    public JsonNode? TargetRef { get; init; }
}

public sealed record EndpointConditions
{
    public bool? Ready { get; init; }

    public bool? Serving { get; init; }

    public bool? Terminating { get; init; }
}

public sealed record EndpointPort
{
    public string? Name { get; init; }

    public int? Port { get; init; }

    public string? Protocol { get; init; }

    public string? AppProtocol { get; init; }
}
