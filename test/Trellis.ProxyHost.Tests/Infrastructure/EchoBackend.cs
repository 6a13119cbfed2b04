using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Trellis.ProxyHost.Tests.Infrastructure;

/// <summary>
/// A Kestrel upstream whose answer is what it received (method, target, protocol, headers sorted, body), so a
/// client's response shows what the proxy sent upstream too. <c>/slow</c> answers after 3 s; <c>/ws</c> echoes
/// WebSocket messages.
/// </summary>
public sealed class EchoBackend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private EchoBackend(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public static async Task<EchoBackend> StartAsync(HttpProtocols protocols)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o => o.Listen(IPAddress.Loopback, 0, l => l.Protocols = protocols));
        var app = builder.Build();
        app.UseWebSockets();
        app.Run(EchoAsync);
        await app.StartAsync();
        return new EchoBackend(app, new Uri(app.Urls.First()).Port);
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }

    private static async Task EchoAsync(HttpContext c)
    {
        if (c.WebSockets.IsWebSocketRequest)
        {
            using var socket = await c.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[4096];
            var received = await socket.ReceiveAsync(buffer, c.RequestAborted);
            await socket.SendAsync(buffer.AsMemory(0, received.Count), WebSocketMessageType.Text, true, c.RequestAborted);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", c.RequestAborted);
            return;
        }

        if (c.Request.Path == "/slow")
        {
            await Task.Delay(TimeSpan.FromSeconds(3), c.RequestAborted);
        }

        using var reader = new StreamReader(c.Request.Body);
        var body = await reader.ReadToEndAsync();
        var headers = c.Request.Headers
            .Select(h => $"{h.Key.ToLowerInvariant()}: {Mask(h.Key, h.Value.ToString())}")
            .Order(StringComparer.Ordinal);
        c.Response.Headers["X-Up"] = "1";
        c.Response.Headers["X-Remove-Me"] = "gone";
        await c.Response.WriteAsync($"{c.Request.Method} {c.Features.Get<IHttpRequestFeature>()!.RawTarget} {c.Request.Protocol}\n{string.Join("\n", headers)}\n\n{body}");
    }

    /// <summary>Ids a proxy generates differ per request; that one was generated is what both builds must agree on.</summary>
    private static string Mask(string name, string value) =>
        name.Equals("x-request-id", StringComparison.OrdinalIgnoreCase) && !value.StartsWith("client-", StringComparison.Ordinal) ? "(generated)" : value;
}
