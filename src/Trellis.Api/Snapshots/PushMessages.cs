using System.Text.Json;
using System.Text.Json.Serialization;

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
public sealed record ProxyHello(string Name, ProxyRole Role, string? Node, IReadOnlyDictionary<string, string> Labels, string? AdminUrl = null);

/// <summary>A proxy's answer to a pushed snapshot.</summary>
public sealed record ProxyAck(string Version, bool Accepted, IReadOnlyList<string> Errors);

/// <summary>JSON settings shared by both ends of the push protocol and the registry API.</summary>
public static class WireJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };
}
