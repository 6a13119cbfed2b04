using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using HttpProtocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols;
using Microsoft.Extensions.Logging;
using Trellis.Api.Snapshots;

namespace Trellis.ProxyHost.Tests.Infrastructure;

/// <summary>
/// The control plane's two ends a proxy talks to (docs/protocol.md): the push stream (h2c), which takes a
/// hello, pushes one snapshot and keeps the ACK; and the serving API, which keeps every report posted.
/// </summary>
public sealed class FakeControlPlane : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeControlPlane(WebApplication app, int apiPort, int pushPort)
    {
        _app = app;
        Api = new Uri($"http://127.0.0.1:{apiPort}");
        Push = new Uri($"http://127.0.0.1:{pushPort}");
    }

    public Uri Api { get; }

    public Uri Push { get; }

    /// <summary>The snapshot to push, by the name in the proxy's hello.</summary>
    public ConcurrentDictionary<string, string> Snapshots { get; } = new();

    /// <summary>Lines a proxy sent on its push stream (hello first, then ACKs), by proxy name.</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<string>> Received { get; } = new();

    /// <summary>The Authorization header of every request (push stream and reports), by path: the proxy's token.</summary>
    public ConcurrentQueue<(string Path, string Authorization)> Authorizations { get; } = new();

    /// <summary>Reports posted to the serving API: path and body.</summary>
    public ConcurrentQueue<(string Path, string Body)> Reports { get; } = new();

    public static async Task<FakeControlPlane> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o =>
        {
            o.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1);
            o.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2);
        });
        var app = builder.Build();
        var plane = (FakeControlPlane?)null;
        app.Run(c => plane!.HandleAsync(c));
        await app.StartAsync();
        var ports = app.Urls.Select(u => new Uri(u).Port).ToArray();
        plane = new FakeControlPlane(app, ports[0], ports[1]);
        return plane;
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext c)
    {
        Authorizations.Enqueue((c.Request.Path, c.Request.Headers.Authorization.ToString()));
        if (c.Request.Path == "/push/v1/stream")
        {
            await StreamAsync(c);
            return;
        }

        using var reader = new StreamReader(c.Request.Body);
        Reports.Enqueue((c.Request.Path, await reader.ReadToEndAsync()));
        c.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private async Task StreamAsync(HttpContext c)
    {
        using var reader = new StreamReader(c.Request.Body, Encoding.UTF8);
        var hello = await reader.ReadLineAsync(c.RequestAborted);
        var name = hello is null ? "" : JsonDocument.Parse(hello).RootElement.GetProperty("name").GetString() ?? "";
        var lines = Received.GetOrAdd(name, _ => new ConcurrentQueue<string>());
        lines.Enqueue(hello ?? "");
        if (!Snapshots.TryGetValue(name, out var snapshot))
        {
            c.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        await c.Response.WriteAsync(snapshot + "\n", c.RequestAborted);
        await c.Response.Body.FlushAsync(c.RequestAborted);
        try
        {
            while (await reader.ReadLineAsync(c.RequestAborted) is { } line)
            {
                lines.Enqueue(line);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The proxy went away.
        }
    }

    public static string Json(ProxySnapshot snapshot) => JsonSerializer.Serialize(snapshot, WireJsonContext.Default.ProxySnapshot);
}
