using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Tests.Infrastructure;

/// <summary>A started <see cref="ProxyServer"/> with an applied snapshot and a client pointed at its first listener.</summary>
internal sealed class ProxyHarness : IAsyncDisposable
{
    private ProxyHarness(ProxyServer server, HttpClient client)
    {
        Server = server;
        Client = client;
    }

    public ProxyServer Server { get; }

    public HttpClient Client { get; }

    public IPEndPoint EndPoint => Server.BoundEndpoints[0];

    public Uri BaseAddress => new($"http://127.0.0.1:{EndPoint.Port}");

    public static async Task<ProxyHarness> StartAsync(
        ProxySnapshot snapshot, ProxyServerOptions? options = null, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        var server = new ProxyServer(options ?? new ProxyServerOptions(), loggerFactory ?? NullLoggerFactory.Instance, time);
        var result = await server.ApplyAsync(snapshot);
        Assert.True(result.Accepted, string.Join("; ", result.Errors));
        var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{server.BoundEndpoints[0].Port}"),
            Timeout = TimeSpan.FromSeconds(30),
        };
        return new ProxyHarness(server, client);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
    }
}
