using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Listeners;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Serving;
using Trellis.Proxy.Telemetry;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Http1;

/// <summary>
/// Lingering close (RFC 9112 §9.6, nginx's lingering_close): a connection answered before the client's
/// body was all read half-closes, drops what the client still sends, and closes when the client
/// closes, after 5 s without bytes, after 30 s in all, or at listener stop.
/// </summary>
public sealed class FastPathLingeringCloseTests
{
    /// <summary>More than the socket buffers between client and proxy hold on loopback (they grow to megabytes).</summary>
    private const int BigBody = 16 * 1024 * 1024;

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    private const string TooLarge = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!";

    /// <summary>
    /// The upstream reads only the head, answers 413 and closes. The client goes on sending its whole
    /// body, then reads: it gets the whole answer and then the end of the stream, and every send
    /// succeeded, because the proxy read and dropped the rest instead of resetting the connection.
    /// </summary>
    [Fact]
    public async Task UpstreamAnswersEarly_ClientSendsItsWholeBody_ClientGetsTheAnswerThenEndOfStream()
    {
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            if (await c.ReadHeadAsync() is not null)
            {
                await c.SendAsync(TooLarge); // and close with the body unread
            }
        });
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));

        for (var i = 0; i < 20; i++)
        {
            using var client = await RawClient.ConnectAsync(proxy.EndPoint.Port);
            await client.SendAsync($"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: {BigBody}\r\n\r\n");
            var sent = await SendAsync(client, BigBody); // as a client that reads only after sending does
            var response = await client.ReadResponseAsync();

            Assert.Equal("413 too big! close", $"{response.Status} {response.Body} {response.Header("Connection")}");
            Assert.Equal(BigBody, sent);
            Assert.True(await client.ClosedAsync()); // the proxy's FIN; the client closes after
        }
    }

    [Fact]
    public async Task Lingering_ClientCloses_ConnectionEnds()
    {
        await using var rig = await Rig.StartAsync();
        var (client, connection) = await rig.AnsweredEarlyAsync();
        using (client)
        {
            Assert.False(connection.Completion.IsCompleted); // lingering: the client has not closed
        }

        await connection.Completion.WaitAsync(Limit);
    }

    [Fact]
    public async Task Lingering_ClientStopsSending_EndsAfterTheLingeringTimeout()
    {
        await using var rig = await Rig.StartAsync();
        var (client, connection) = await rig.AnsweredEarlyAsync();
        using var _ = client;

        rig.Sweeps(5);
        Assert.False(rig.SocketClosed); // 5 s without bytes: still within the timeout
        rig.Sweeps(1);
        Assert.True(rig.SocketClosed); // 6 s: past it
        await connection.Completion.WaitAsync(Limit);
    }

    [Fact]
    public async Task Lingering_ClientKeepsSending_EndsAfterTheLingeringTime()
    {
        await using var rig = await Rig.StartAsync();
        var (client, connection) = await rig.AnsweredEarlyAsync();
        using var _ = client;

        for (var second = 4; second <= 28; second += 4)
        {
            rig.Sweeps(4);
            Assert.False(rig.SocketClosed, $"closed at {second} s although the client sent within the timeout");
            // More than the buffers hold: the send ends only once the proxy has read (and dropped) bytes of
            // it, while the clock stands at this second; so at 30 s the last bytes are at most 2 s old.
            Assert.Equal(BigBody, await SendAsync(client, BigBody));
        }

        rig.Sweeps(2);
        Assert.False(rig.SocketClosed, "closed at 30 s, the lingering time itself");
        rig.Sweeps(1);
        Assert.True(rig.SocketClosed, "still open at 31 s, past the lingering time");
        await connection.Completion.WaitAsync(Limit);
    }

    [Fact]
    public async Task ListenerStop_LingeringConnection_EndsAtOnce()
    {
        await using var rig = await Rig.StartAsync();
        var (client, connection) = await rig.AnsweredEarlyAsync();
        using var _ = client;

        // The drain timeout is on the manual clock, which stays put: the stop ends only if the lingering connection does.
        await rig.Listener.StopAsync(TimeSpan.FromSeconds(30)).WaitAsync(Limit);

        Assert.True(connection.Completion.IsCompleted);
    }

    /// <summary>Sends up to <paramref name="count"/> body bytes in pieces; how many went out before a send failed.</summary>
    private static async Task<long> SendAsync(RawClient client, long count)
    {
        var piece = new string('x', 64 * 1024);
        long sent = 0;
        try
        {
            for (; sent < count; sent += piece.Length)
            {
                await client.SendAsync(piece);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Reset by the proxy.
        }

        return sent;
    }

    /// <summary>
    /// A fast-path listener on a manual clock whose connections the test holds: a client connects to
    /// <see cref="_accept"/> and the accepted socket is served by an <see cref="Http1Connection"/> the
    /// listener adopts (so its sweep and its stop cover it); advancing the clock runs the sweep.
    /// </summary>
    private sealed class Rig : IAsyncDisposable
    {
        private readonly ManualTimeProvider _time;
        private readonly ScriptedUpstream _backend;
        private readonly UpstreamClients _clients;
        private readonly UpstreamConnectionPool _pool;
        private readonly HandoffTransport _handoff;
        private readonly TcpListener _accept = new(IPAddress.Loopback, 0);
        private Socket? _accepted;

        private Rig(ManualTimeProvider time, ScriptedUpstream backend, UpstreamClients clients, UpstreamConnectionPool pool, HandoffTransport handoff, Http1Listener listener)
        {
            _time = time;
            _backend = backend;
            _clients = clients;
            _pool = pool;
            _handoff = handoff;
            Listener = listener;
            _accept.Start();
        }

        public Http1Listener Listener { get; }

        /// <summary>
        /// Whether the proxy has closed the last connection's socket. The sweep that ends a lingering
        /// connection closes it on the advancing thread, so this is exact at once, unlike the
        /// connection's completion or what the client sees, which come later over the thread pool.
        /// </summary>
        public bool SocketClosed
        {
            get
            {
                try
                {
                    _ = _accepted!.Available;
                    return false;
                }
                catch (ObjectDisposedException)
                {
                    return true;
                }
            }
        }

        public static Task<Rig> StartAsync()
        {
            var backend = ScriptedUpstream.Start(async c =>
            {
                if (await c.ReadHeadAsync() is not null)
                {
                    await c.SendAsync(TooLarge);
                }
            });
            var snapshot = Snapshots.ToCluster("1", backend.Endpoint);
            var options = new ProxyServerOptions();
            var time = new ManualTimeProvider();
            var clients = new UpstreamClients(options);
            var snapshots = new SnapshotHolder();
            snapshots.Swap(SnapshotCompiler.Compile(snapshot, CompiledSnapshot.Empty, clients, options));
            var pool = new UpstreamConnectionPool(options, time);
            var pipeline = new RequestPipeline(
                snapshots, options, time, new ActivationQueues(snapshots, time, (_, _) => { }), new ColdStartStats(),
                new TelemetryStage(NullLogger.Instance, time, new Trellis.Proxy.Telemetry.ProxyTelemetry()), NullLogger.Instance,
                NullLogger.Instance, new Mirroring(pool, options, NullLogger.Instance));
            var services = new Http1Services(snapshots, pool, options, time, NullLogger.Instance, NullLogger.Instance, pipeline);
            var handoff = new HandoffTransport(new SocketTransportOptions(), NullLoggerFactory.Instance);
            var listener = Http1Listener.Start(snapshot.Listeners[0], services, new ListenerStats(), handoff);
            return Task.FromResult(new Rig(time, backend, clients, pool, handoff, listener));
        }

        /// <summary>
        /// A connection whose request the upstream answered (413, then close) after a part of its
        /// 1 MiB body; the client has read the answer and the proxy's end of stream, and sends no more.
        /// </summary>
        public async Task<(RawClient Client, Http1Connection Connection)> AnsweredEarlyAsync()
        {
            var client = await RawClient.ConnectAsync(((IPEndPoint)_accept.LocalEndpoint).Port);
            var socket = await _accept.AcceptSocketAsync();
            socket.NoDelay = true;
            _accepted = socket;
            var connection = new Http1Connection(new Trellis.Proxy.Listeners.SocketClientTransport(socket), Listener);
            Listener.Adopt(connection);

            await client.SendAsync($"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: {1024 * 1024}\r\n\r\n");
            await client.SendAsync(new string('x', 64 * 1024));
            var response = await client.ReadResponseAsync();
            Assert.Equal("413 too big! close", $"{response.Status} {response.Body} {response.Header("Connection")}");
            Assert.True(await client.ClosedAsync());
            return (client, connection);
        }

        /// <summary>Advances the clock <paramref name="seconds"/> seconds, one listener sweep each (they run on the advancing thread).</summary>
        public void Sweeps(int seconds)
        {
            for (var i = 0; i < seconds; i++)
            {
                _time.Advance(TimeSpan.FromSeconds(1));
            }
        }

        public async ValueTask DisposeAsync()
        {
            _accept.Stop();
            await Listener.StopAsync(TimeSpan.Zero);
            _pool.Dispose();
            _clients.Dispose();
            await _handoff.DisposeAsync();
            await _backend.DisposeAsync();
        }
    }
}
