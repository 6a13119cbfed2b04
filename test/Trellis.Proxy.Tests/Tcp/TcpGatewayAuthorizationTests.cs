using Trellis.Api.Security;
using Trellis.Api.Snapshots;
using static Trellis.Proxy.Tests.Tcp.TcpProxyTests;

namespace Trellis.Proxy.Tests.Tcp;

/// <summary>
/// A gateway's TCP server (Istio Gateway <c>protocol: TCP</c>) is authorized when a connection arrives, as an inbound
/// relay is: the gateway's policies read as Istio reads them for TCP, the gateway's port as <c>destination.port</c>.
/// </summary>
public sealed class TcpGatewayAuthorizationTests
{
    public static TheoryData<string, Rule, AuthorizationEffect, bool> Cases => new()
    {
        { "DENY the client's address", new Rule { From = [new RuleFrom { Source = new Source { RemoteIpBlocks = ["127.0.0.0/8"] } }] }, AuthorizationEffect.Deny, false },
        { "DENY another address", new Rule { From = [new RuleFrom { Source = new Source { RemoteIpBlocks = ["10.0.0.0/8"] } }] }, AuthorizationEffect.Deny, true },
        { "ALLOW the gateway's port", new Rule { To = [new RuleTo { Operation = new Operation { Ports = ["31400"] } }] }, AuthorizationEffect.Allow, true },
        { "ALLOW another port", new Rule { To = [new RuleTo { Operation = new Operation { Ports = ["31401"] } }] }, AuthorizationEffect.Allow, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task GatewayRelay_Policy_DecidesBeforeTheUpstreamIsDialled(string name, Rule rule, AuthorizationEffect action, bool reaches)
    {
        await using var backend = new TcpBackend("db");
        var snapshot = Snapshot(To(("db", 100)) with { DestinationPort = 31400 }, new ClusterConfig("db", [new EndpointConfig("127.0.0.1", backend.Port)]));
        var listener = snapshot.Listeners[0] with
        {
            Kind = ListenerKind.Gateway,
            Authorization = new AuthorizationConfig([new AuthorizationPolicyConfig("istio-system/" + name, action, [rule])]),
        };
        await using var gateway = await StartAsync(snapshot with { Listeners = [listener] });

        Assert.Equal(reaches ? "db:hello" : "", await ExchangeAsync(gateway, "hello"));
        Assert.Equal(reaches ? 1 : 0, backend.Connections);
    }
}
