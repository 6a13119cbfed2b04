using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Push;

/// <summary>
/// Serves the push stream of docs/protocol.md: one long-lived HTTP/2 request per proxy. The request
/// body carries the proxy's hello and then its ACK/NACKs (NDJSON); the response body carries snapshots
/// (NDJSON), one whenever the proxy's compiled view changes.
/// </summary>
public sealed partial class PushServer(MeshStateSource states, SnapshotCache cache, ILogger<PushServer> log, TimeProvider time)
{
    private readonly ConcurrentDictionary<ProxyConnection, byte> _connections = new();

    public IReadOnlyList<ProxyConnection> Connections => _connections.Keys.OrderBy(c => c.Hello.Name, StringComparer.Ordinal).ToList();

    public async Task HandleAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        // The request body carries only ACKs, seconds or hours apart: Kestrel's minimum body data rate
        // (240 B/s after 5 s) would abort every stream, so the stream opts out of it.
        if (context.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } minRate)
        {
            minRate.MinDataRate = null;
        }

        var body = context.Request.BodyReader;
        ProxyHello? hello = null;
        try
        {
            hello = await NdjsonReader.ReadAsync(body, WireJsonContext.Default.ProxyHello, aborted);
        }
        catch (JsonException)
        {
        }

        if (hello is null || string.IsNullOrEmpty(hello.Name) || (hello.Role == ProxyRole.Node && string.IsNullOrEmpty(hello.Node)))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("first line must be a ProxyHello with name (and node for role node)\n", aborted);
            return;
        }

        if (Auth.PushIdentity.Refusal(Auth.ApiPrincipal.Of(context), hello) is { } refused)
        {
            LogRefused(log, hello.Name, refused);
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsync(refused + "\n", aborted);
            return;
        }

        var connection = new ProxyConnection(hello, time.GetUtcNow());
        _connections[connection] = 0;
        LogConnected(log, hello.Name, hello.Role);
        context.Response.ContentType = "application/x-ndjson";
        await context.Response.StartAsync(aborted);
        var acks = ReadAcksAsync(body, connection, aborted);
        var view = SnapshotCache.ViewKey(hello);
        try
        {
            long seen = -1;
            while (!aborted.IsCancellationRequested)
            {
                var state = states.Current;
                seen = state.Generation;
                var (snapshot, line) = cache.GetWire(view, hello, state);
                if (snapshot.Version != connection.SentVersion)
                {
                    await context.Response.BodyWriter.WriteAsync(line, aborted); // writes and flushes
                    connection.Sent(snapshot.Version, state.Store.Revision);
                    LogPushed(log, hello.Name, snapshot.Version, snapshot.Listeners.Count);
                }
                else
                {
                    connection.Sent(snapshot.Version, state.Store.Revision); // unchanged for this proxy: it is current up to this revision
                }

                await Task.WhenAny(states.WaitForNewerAsync(seen, aborted), acks);
                if (acks.IsCompleted)
                {
                    break; // the proxy closed its side: it is going away
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
        }
        finally
        {
            _connections.TryRemove(connection, out _);
            LogDisconnected(log, hello.Name);
        }
    }

    private async Task ReadAcksAsync(PipeReader body, ProxyConnection connection, CancellationToken aborted)
    {
        try
        {
            while (await NdjsonReader.ReadAsync(body, WireJsonContext.Default.ProxyAck, aborted) is { } ack)
            {
                connection.Received(ack);
                if (!ack.Accepted)
                {
                    LogNack(log, connection.Hello.Name, ack.Version, string.Join("; ", ack.Errors));
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or JsonException)
        {
        }
    }

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning, Message = "Push stream for {Name} refused: {Reason}")]
    private static partial void LogRefused(ILogger log, string name, string reason);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Proxy {Name} ({Role}) connected")]
    private static partial void LogConnected(ILogger log, string name, ProxyRole role);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Debug, Message = "Pushed {Version} to {Name}: {Listeners} listeners")]
    private static partial void LogPushed(ILogger log, string name, string version, int listeners);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning, Message = "Proxy {Name} rejected {Version}: {Errors}")]
    private static partial void LogNack(ILogger log, string name, string version, string errors);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Information, Message = "Proxy {Name} disconnected")]
    private static partial void LogDisconnected(ILogger log, string name);
}
