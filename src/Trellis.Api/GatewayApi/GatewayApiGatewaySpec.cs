using System.Text.Json.Nodes;
using Trellis.Api.Workloads;

namespace Trellis.Api.GatewayApi;

/// <summary>
/// Gateway API <c>Gateway</c> (gateway.networking.k8s.io/v1): listeners that routes attach to through their
/// <c>parentRefs</c>.
/// </summary>
public sealed record GatewayApiGatewaySpec
{
    public required string GatewayClassName { get; init; }

    public required IReadOnlyList<Listener> Listeners { get; init; }

    public IReadOnlyList<GatewayAddress> Addresses { get; init; } = [];

    public JsonNode? Infrastructure { get; init; }
}

public sealed record Listener
{
    public required string Name { get; init; }

    /// <summary>Restricts the hosts routes may serve here; may start with <c>*.</c>.</summary>
    public string? Hostname { get; init; }

    public required int Port { get; init; }

    /// <summary>HTTP, HTTPS, TLS, TCP, UDP or a domain-prefixed extension protocol.</summary>
    public required string Protocol { get; init; }

    public GatewayTlsConfig? Tls { get; init; }

    public AllowedRoutes? AllowedRoutes { get; init; }
}

public sealed record GatewayTlsConfig
{
    /// <summary>Terminate (default) or Passthrough.</summary>
    public string? Mode { get; init; }

    public IReadOnlyList<SecretObjectReference> CertificateRefs { get; init; } = [];

    public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();
}

public sealed record SecretObjectReference
{
    public string? Group { get; init; }

    public string? Kind { get; init; }

    public required string Name { get; init; }

    public string? Namespace { get; init; }
}

public sealed record AllowedRoutes
{
    public RouteNamespaces? Namespaces { get; init; }

    public IReadOnlyList<RouteGroupKind> Kinds { get; init; } = [];
}

public sealed record RouteNamespaces
{
    /// <summary>Same (default), All or Selector.</summary>
    public string? From { get; init; }

    public LabelSelector? Selector { get; init; }
}

public sealed record RouteGroupKind
{
    public string? Group { get; init; }

    public required string Kind { get; init; }
}

public sealed record GatewayAddress
{
    public string? Type { get; init; }

    public required string Value { get; init; }
}
