using System.Collections.Frozen;
using System.Net;
using Trellis.Api.Snapshots;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Tcp;

namespace Trellis.Proxy.Tests.Tcp;

/// <summary>Which destination a name or an address on a port finds: exact names, the longest <c>*.suffix</c>, the narrowest address block.</summary>
public sealed class TcpDestinationTableTests
{
    private static TcpDestinationTable Table()
    {
        TcpDestinationConfig To(string route, IReadOnlyList<string> hosts, int port, IReadOnlyList<string>? addresses = null) =>
            new(hosts, port, new TcpProxyConfig([new TcpRouteConfig(route, [], [new WeightedClusterConfig("c", 100)])]), addresses);
        var config = new TcpDestinationsConfig(
            [
                To("exact", ["db.example"], 5432),
                To("wide", ["*.example"], 443),
                To("narrow", ["*.api.example"], 443),
                To("block", [], 5432, ["10.0.0.0/8"]),
                To("vip", [], 5432, ["10.1.2.3"]),
                To("v6", [], 5432, ["fd00::/64"]),
            ],
            "PassthroughCluster");
        var clusters = new Dictionary<string, ClusterState>
        {
            ["c"] = new(new ClusterConfig("c", []), [], null!, _ => 0, TimeProvider.System),
            ["PassthroughCluster"] = new(new ClusterConfig("PassthroughCluster", [], LoadBalancerKind.Passthrough), [], null!, _ => 0, TimeProvider.System),
        }.ToFrozenDictionary();
        return TcpDestinationTable.Compile(config, clusters, new ListenerConfig("out", "127.0.0.1", 0, ListenerKind.Outbound, "t"));
    }

    [Theory]
    [InlineData("db.example", 5432, "exact")]
    [InlineData("DB.Example", 5432, "exact")]
    [InlineData("db.example", 5433, null)]
    [InlineData("x.api.example", 443, "narrow")]
    [InlineData("x.other.example", 443, "wide")]
    [InlineData("example", 443, null)]
    public void Find_ByName_ExactThenLongestSuffix(string host, int port, string? route)
    {
        Assert.Equal(route, Table().Find(host, port)?.Routes[0].Name);
    }

    [Theory]
    [InlineData("10.1.2.3", 5432, "vip")]
    [InlineData("10.200.0.1", 5432, "block")]
    [InlineData("::ffff:10.1.2.3", 5432, "vip")]
    [InlineData("fd00::5", 5432, "v6")]
    [InlineData("10.1.2.3", 5433, null)]
    [InlineData("11.0.0.1", 5432, null)]
    public void Find_ByAddress_NarrowestBlockOnThePort(string address, int port, string? route)
    {
        Assert.Equal(route, Table().Find(IPAddress.Parse(address), port)?.Routes[0].Name);
    }

    [Fact]
    public void Otherwise_PassthroughCluster_AllowAny()
    {
        var table = Table();

        Assert.False(table.RegistryOnly);
        Assert.Equal("allow_any", table.Otherwise.Routes[0].Name);
    }
}
