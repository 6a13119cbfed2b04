using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.LoadBalancing;

/// <summary>Passthrough clusters (Istio's PassthroughCluster under ALLOW_ANY, ServiceEntry resolution NONE): the request names its endpoint.</summary>
public sealed class PassthroughTests
{
    private static ProxySnapshot Passthrough(int listenerPort = 0) => new(
        "1",
        [Snapshots.Listener(port: listenerPort)],
        [new RouteTableConfig("rt", [new VirtualHostConfig("allow_any", ["*"], [Snapshots.Route("allow_any", "PassthroughCluster")])])],
        [new ClusterConfig("PassthroughCluster", [], LoadBalancerKind.Passthrough)]);

    [Fact]
    public async Task Forward_PassthroughCluster_GoesToTheAuthorityTheRequestNames()
    {
        await using var a = await TestBackend.StartAsync(c => c.Response.WriteAsync("a " + c.Request.Host));
        await using var b = await TestBackend.StartAsync(c => c.Response.WriteAsync("b " + c.Request.Host));
        await using var proxy = await ProxyHarness.StartAsync(Passthrough());

        foreach (var (backend, name) in new[] { (a, "a"), (b, "b") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Host = $"127.0.0.1:{backend.Port}";
            using var response = await proxy.Client.SendAsync(request);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"{name} 127.0.0.1:{backend.Port}", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Forward_PassthroughToTheProxyItself_RefusedNotLooped()
    {
        var port = FreePorts.Next();
        await using var proxy = await ProxyHarness.StartAsync(Passthrough(port));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Host = $"localhost:{port}";
        using var response = await proxy.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("no healthy upstream", await response.Content.ReadAsStringAsync());
    }
}
