using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Tests.Infrastructure;

/// <summary>Small builders for snapshots used across tests.</summary>
internal static class Snapshots
{
    public static ListenerConfig Listener(string name = "in", string table = "rt", HttpProtocols protocols = HttpProtocols.Http1AndHttp2, int port = 0) =>
        new(name, "127.0.0.1", port, ListenerKind.Gateway, table, Protocols: protocols);

    public static RouteConfig Route(string name, string cluster, params RouteMatchConfig[] matches) =>
        new(name, matches, [new WeightedClusterConfig(cluster, 100)]);

    /// <summary>One listener, one catch-all virtual host with <paramref name="routes"/>, and the clusters.</summary>
    public static ProxySnapshot With(string version, IReadOnlyList<RouteConfig> routes, params ClusterConfig[] clusters) =>
        new(version, [Listener()], [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], routes)])], clusters);

    /// <summary>Everything to one cluster of the given endpoints.</summary>
    public static ProxySnapshot ToCluster(string version, UpstreamProtocol protocol, params EndpointConfig[] endpoints) =>
        With(version, [Route("default", "backend")], new ClusterConfig("backend", endpoints, Protocol: protocol));

    public static ProxySnapshot ToCluster(string version, params EndpointConfig[] endpoints) =>
        ToCluster(version, UpstreamProtocol.Http1, endpoints);
}
