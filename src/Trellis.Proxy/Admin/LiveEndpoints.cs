using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Telemetry.Live;

namespace Trellis.Proxy.Admin;

/// <summary>
/// The proxy's side of the live views (Linkerd's tap and stat go through its control plane to the proxies; so do
/// Trellis's): <c>GET /live/stats?window=SECONDS</c> (the edges counted in the window), <c>GET
/// /live/tap?workload=W&amp;namespace=N&amp;path=P&amp;method=M</c> (a stream of finished requests as JSON lines, while the
/// client stays) and <c>GET /live/logs?workload=W&amp;namespace=N&amp;follow=true</c> (the workload's access-log lines).
/// RequestDelegates and the generated JSON: the Native AOT proxy serves them too.
/// </summary>
public static class LiveEndpoints
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();

    public static void Map(IEndpointRouteBuilder app, ProxyServer proxy)
    {
        app.MapGet("/live/stats", c => Stats(c, proxy));
        app.MapGet("/live/tap", c => TapAsync(c, proxy));
        app.MapGet("/live/logs", c => LogsAsync(c, proxy));
    }

    private static Task Stats(HttpContext c, ProxyServer proxy)
    {
        var text = c.Request.Query["window"].FirstOrDefault() ?? EdgeWindow.MaxWindowSeconds.ToString(CultureInfo.InvariantCulture);
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds is < 1 or > EdgeWindow.MaxWindowSeconds)
        {
            return Fail(c, $"window must be whole seconds from 1 to {EdgeWindow.MaxWindowSeconds}, not \"{text}\"");
        }

        return Results.Json(proxy.Telemetry.LiveStats(seconds, proxy.Name), WireJsonContext.Default.ProxyLiveStats).ExecuteAsync(c);
    }

    private static async Task TapAsync(HttpContext c, ProxyServer proxy)
    {
        var query = c.Request.Query;
        if (query["workload"].FirstOrDefault() is not { Length: > 0 } workload)
        {
            await Fail(c, "workload is required");
            return;
        }

        var filter = new TapFilter(workload, Optional(query["namespace"]), Optional(query["path"]), Optional(query["method"]));
        var taps = proxy.Telemetry.Taps;
        var ct = c.RequestAborted;
        c.Response.ContentType = "application/x-ndjson";
        using var attached = taps.Attach(filter);
        var cursor = taps.Records.Next;
        // Headers now: the caller knows the tap is attached before the first request comes.
        await c.Response.StartAsync(ct);
        await c.Response.Body.FlushAsync(ct);
        var batch = new List<TapRecord>();
        try
        {
            while (true)
            {
                await taps.Records.WaitAsync(cursor, ct);
                batch.Clear();
                var next = taps.Records.Read(cursor, batch, out var id);
                foreach (var record in batch)
                {
                    // The ring holds what every tap wanted; each tap sends its own.
                    if (filter.Matches(record.Self, record.Method, record.Path))
                    {
                        await JsonSerializer.SerializeAsync(c.Response.Body, record.ToEvent(id, proxy.Name), WireJsonContext.Default.TapEvent, ct);
                        await c.Response.Body.WriteAsync(NewLine, ct);
                    }

                    id++;
                }

                await c.Response.Body.FlushAsync(ct);
                cursor = next;
            }
        }
        catch (OperationCanceledException)
        {
            // The client went away: the tap detaches.
        }
    }

    private static async Task LogsAsync(HttpContext c, ProxyServer proxy)
    {
        var query = c.Request.Query;
        if (query["workload"].FirstOrDefault() is not { Length: > 0 } workload)
        {
            await Fail(c, "workload is required");
            return;
        }

        var tail = proxy.Telemetry.Tails.Find(workload, Optional(query["namespace"]));
        if (tail is null)
        {
            await Results.Text(
                $"the proxy of {workload} writes no access log: turn it on with a Telemetry resource (accessLogging) or the mesh config's accessLogFile",
                statusCode: 404).ExecuteAsync(c);
            return;
        }

        var follow = query["follow"].FirstOrDefault() is "true" or "1";
        var ct = c.RequestAborted;
        c.Response.ContentType = "text/plain; charset=utf-8";
        var lines = new List<string>();
        var cursor = 0L;
        try
        {
            do
            {
                lines.Clear();
                cursor = tail.Read(cursor, lines, out _);
                foreach (var line in lines)
                {
                    await c.Response.WriteAsync(line + "\n", ct);
                }

                await c.Response.Body.FlushAsync(ct);
                if (follow)
                {
                    await tail.WaitAsync(cursor, ct);
                }
            }
            while (follow);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static string? Optional(Microsoft.Extensions.Primitives.StringValues value) =>
        value.FirstOrDefault() is { Length: > 0 } text ? text : null;

    private static Task Fail(HttpContext c, string message) => Results.Text(message, statusCode: 400).ExecuteAsync(c);
}
