using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Tests.Infrastructure;

/// <summary>A real Kestrel upstream on 127.0.0.1 with a free port, answering with the given delegate.</summary>
internal sealed class TestBackend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestBackend(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public EndpointConfig Endpoint => new("127.0.0.1", Port);

    public static async Task<TestBackend> StartAsync(
        RequestDelegate handler,
        Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1,
        bool webSockets = false)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o =>
        {
            o.Limits.MaxRequestBodySize = null;
            o.Listen(IPAddress.Loopback, 0, l => l.Protocols = protocols);
        });
        var app = builder.Build();
        if (webSockets)
        {
            app.UseWebSockets();
        }

        app.Run(handler);
        await app.StartAsync();
        var address = app.Urls.First();
        return new TestBackend(app, new Uri(address).Port);
    }

    /// <summary>Answers every request with a short text that names this backend.</summary>
    public static Task<TestBackend> StartNamedAsync(string name) =>
        StartAsync(context => context.Response.WriteAsync(name));

    public async ValueTask DisposeAsync()
    {
        // Tests leave hanging requests behind on purpose; do not wait the default 30 s for them.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }
}
