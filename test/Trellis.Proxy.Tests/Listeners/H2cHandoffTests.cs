using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;
using KestrelProtocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols;

namespace Trellis.Proxy.Tests.Listeners;

/// <summary>
/// gRPC from a workload: h2c into an outbound (<c>Http1AndHttp2</c>) listener for a route with an HTTP/2 upstream,
/// which only the Kestrel path serves. The listener's own Kestrel speaks HTTP/1.1 only; the h2c connection goes to
/// its h2c server instead, and HTTP/1.1 clients on the same port are unaffected.
/// </summary>
public sealed class H2cHandoffTests
{
    [Fact]
    public async Task Forward_H2cOnHttp1AndHttp2ListenerToHttp2Upstream_ServedWithTrailers()
    {
        await using var backend = await TestBackend.StartAsync(
            async c =>
            {
                c.Response.ContentType = "application/grpc";
                await c.Response.WriteAsync($"upstream saw {c.Request.Protocol}");
                c.Response.AppendTrailer("grpc-status", "5");
            },
            KestrelProtocols.Http2);
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", UpstreamProtocol.Http2, backend.Endpoint));
        using var h2c = new HttpClient(new SocketsHttpHandler { UseProxy = false })
        {
            BaseAddress = proxy.BaseAddress,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/pkg.Service/Method")
            {
                Content = new ByteArrayContent([0, 0, 0, 0, 0]),
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            using var response = await h2c.SendAsync(request);

            Assert.Equal(HttpVersion.Version20, response.Version);
            Assert.Equal("upstream saw HTTP/2", await response.Content.ReadAsStringAsync());
            Assert.Equal("5", response.TrailingHeaders.GetValues("grpc-status").Single());
        }

        using var http1 = await proxy.Client.GetAsync("/");
        Assert.Equal(HttpVersion.Version11, http1.Version);
        Assert.Equal("upstream saw HTTP/2", await http1.Content.ReadAsStringAsync());
    }
}
