using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Trellis.Proxy.Listeners;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Listeners;

public sealed class HandoffTransportTests
{
    /// <summary>Answers with the path and the x-test header, so a test sees which request was served.</summary>
    private static readonly RequestDelegate Echo = context =>
        WriteAsync(context, $"{context.Request.Path} {context.Request.Headers["x-test"]}");

    [Fact]
    public async Task TryHand_WholeRequestInPrefix_IsAnsweredAndConnectionKeptAlive()
    {
        await using var harness = await Harness.StartAsync(Echo);
        var (client, server) = await harness.ConnectAsync();
        using var _ = client;
        await client.SendAsync(Ascii("GET /first HTTP/1.1\r\nHost: a\r\nX-Test: one\r\n\r\n"));
        var prefix = await ReadHeadAsync(server);

        Assert.True(harness.Transport.TryHand(server, prefix));

        Assert.Equal("/first one", (await ReadResponseAsync(client)).Body);
        await client.SendAsync(Ascii("GET /second HTTP/1.1\r\nHost: a\r\nX-Test: two\r\n\r\n"));
        Assert.Equal("/second two", (await ReadResponseAsync(client)).Body);
    }

    [Fact]
    public async Task TryHand_HalfHeadInPrefix_RestFromSocketIsAnswered()
    {
        await using var harness = await Harness.StartAsync(Echo);
        var (client, server) = await harness.ConnectAsync();
        using var _ = client;
        var half = Ascii("GET /half HTTP/1.1\r\nHo");
        await client.SendAsync(half);
        var prefix = await ReadExactlyAsync(server, half.Length);

        Assert.True(harness.Transport.TryHand(server, prefix));
        // A reused buffer must not change what Kestrel reads.
        Array.Clear(prefix);
        await client.SendAsync(Ascii("st: a\r\nX-Test: two\r\n\r\n"));

        Assert.Equal("/half two", (await ReadResponseAsync(client)).Body);
    }

    [Fact]
    public async Task TryHand_PostHeadInPrefixBodyOnSocket_AppReadsWholeBody()
    {
        await using var harness = await Harness.StartAsync(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            await WriteAsync(context, $"{body.Length} {Convert.ToHexString(SHA256.HashData(body.ToArray()))}");
        });
        var (client, server) = await harness.ConnectAsync();
        using var _ = client;
        // Larger than a pipe's default segment and pause threshold, so the pump loops and waits.
        var payload = RandomNumberGenerator.GetBytes(300_000);
        await client.SendAsync(Ascii($"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: {payload.Length}\r\n\r\n"));
        var prefix = await ReadHeadAsync(server);

        Assert.True(harness.Transport.TryHand(server, prefix));
        await client.SendAsync(payload.AsMemory(0, 1000));
        await client.SendAsync(payload.AsMemory(1000));

        Assert.Equal($"{payload.Length} {Convert.ToHexString(SHA256.HashData(payload))}", (await ReadResponseAsync(client)).Body);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TryHand_WithOrWithoutPrefix_AppSeesTheSocketsEndPointsAndSocket(bool withPrefix)
    {
        Socket? handed = null;
        await using var harness = await Harness.StartAsync(context =>
        {
            var connection = context.Connection;
            var sameSocket = ReferenceEquals(context.Features.Get<IConnectionSocketFeature>()?.Socket, handed);
            return WriteAsync(context, $"{new IPEndPoint(connection.RemoteIpAddress!, connection.RemotePort)} {new IPEndPoint(connection.LocalIpAddress!, connection.LocalPort)} {sameSocket}");
        });
        var (client, server) = await harness.ConnectAsync();
        using var _ = client;
        handed = server;
        var request = Ascii("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        byte[] prefix = [];
        if (withPrefix)
        {
            await client.SendAsync(request);
            prefix = await ReadHeadAsync(server);
        }

        Assert.True(harness.Transport.TryHand(server, prefix));
        if (!withPrefix)
        {
            await client.SendAsync(request);
        }

        Assert.Equal($"{client.LocalEndPoint} {client.RemoteEndPoint} True", (await ReadResponseAsync(client)).Body);
    }

    [Fact]
    public async Task TryHand_NoListenerBoundOrTransportDisposed_ReturnsFalse()
    {
        var transport = new HandoffTransport(new SocketTransportOptions(), new CapturingLoggerProvider());
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        Assert.False(transport.TryHand(socket, []));
        await using var listener = await transport.BindAsync(new IPEndPoint(IPAddress.Loopback, 80));
        await transport.DisposeAsync();
        Assert.False(transport.TryHand(socket, []));
    }

    [Fact]
    public async Task TryHand_AfterServerStopped_ReturnsFalseAndLeavesSocketToCaller()
    {
        await using var harness = await Harness.StartAsync(Echo);
        var (client, server) = await harness.ConnectAsync();
        using var _ = client;
        using var __ = server;

        await harness.StopAsync();

        Assert.False(harness.Transport.TryHand(server, Ascii("GET / HTTP/1.1\r\n")));
        // Nothing read from or closed the socket: the caller can still use it.
        await server.SendAsync(Ascii("still mine"));
        Assert.Equal("still mine", Encoding.ASCII.GetString(await ReadExactlyAsync(client, 10)));
    }

    [Fact]
    public async Task UnbindAsync_HandedButNotAccepted_ClosesSocketAndAcceptReturnsNull()
    {
        using var listen = Harness.Listen();
        var transport = new HandoffTransport(new SocketTransportOptions(), new CapturingLoggerProvider());
        var endPoint = new IPEndPoint(IPAddress.Loopback, 8080);
        await using var listener = await transport.BindAsync(endPoint);
        var (client, server) = await Harness.ConnectAsync(listen);
        using var _ = client;
        Assert.Equal(endPoint, listener.EndPoint);
        Assert.True(transport.TryHand(server, Ascii("GET / HTTP/1.1\r\n")));

        await listener.UnbindAsync();

        Assert.False(transport.TryHand(server, []));
        Assert.Null(await listener.AcceptAsync());
        Assert.Equal(0, await client.ReceiveAsync(new byte[16])); // closed, nothing written
        await transport.DisposeAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TryHand_ClientClosesMidRequest_ConnectionEndsWithoutErrors(bool reset)
    {
        var unobserved = new List<Exception>();
        EventHandler<UnobservedTaskExceptionEventArgs> record = (_, e) =>
        {
            if (e.Exception.ToString().Contains(nameof(HandoffTransport), StringComparison.Ordinal))
            {
                lock (unobserved)
                {
                    unobserved.Add(e.Exception);
                }
            }
        };
        TaskScheduler.UnobservedTaskException += record;
        try
        {
            var logs = new CapturingLoggerProvider();
            await using (var harness = await Harness.StartAsync(Echo, logs))
            {
                var (client, server) = await harness.ConnectAsync();
                using var _ = server;
                await client.SendAsync(Ascii("GET /never HTTP/1.1\r\nHo"));
                Assert.True(harness.Transport.TryHand(server, await ReadExactlyAsync(server, 22)));
                if (reset)
                {
                    client.LingerState = new LingerOption(true, 0);
                }

                client.Dispose();

                // Kestrel disposes the socket when it is done with the connection.
                await Eventually.TrueAsync(() => server.SafeHandle.IsClosed, "Kestrel closed the handed socket");
            }

            GC.Collect();
            GC.WaitForPendingFinalizers();
            Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
            Assert.Empty(unobserved);
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= record;
        }
    }

    private static Task WriteAsync(HttpContext context, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        context.Response.ContentLength = bytes.Length;
        return context.Response.Body.WriteAsync(bytes).AsTask();
    }

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        for (var read = 0; read < count;)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), timeout.Token);
            read += n > 0 ? n : throw new IOException($"Closed after {read} of {count} bytes");
        }

        return buffer;
    }

    /// <summary>Reads byte by byte up to the blank line, as the fast path would have read a request head.</summary>
    private static async Task<byte[]> ReadHeadAsync(Socket socket)
    {
        var head = new List<byte>();
        while (head.Count < 4 || !head.TakeLast(4).SequenceEqual("\r\n\r\n"u8.ToArray()))
        {
            head.AddRange(await ReadExactlyAsync(socket, 1));
        }

        return [.. head];
    }

    private static async Task<(string Head, string Body)> ReadResponseAsync(Socket socket)
    {
        var head = Encoding.ASCII.GetString(await ReadHeadAsync(socket));
        var lengthLine = head.Split("\r\n").Single(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        var length = int.Parse(lengthLine["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        return (head, Encoding.UTF8.GetString(await ReadExactlyAsync(socket, length)));
    }

    /// <summary>
    /// A real listening socket standing in for the fast path's, and a bare KestrelServer (as
    /// ProxyListener builds it) whose only transport is the hand-off.
    /// </summary>
    private sealed class Harness : IAsyncDisposable
    {
        private readonly Socket _listen;
        private readonly KestrelServer _server;
        private bool _stopped;

        private Harness(Socket listen, HandoffTransport transport, KestrelServer server)
        {
            _listen = listen;
            Transport = transport;
            _server = server;
        }

        public HandoffTransport Transport { get; }

        public static async Task<Harness> StartAsync(RequestDelegate handler, ILoggerFactory? loggerFactory = null)
        {
            loggerFactory ??= new CapturingLoggerProvider();
            var listen = Listen();
            var kestrel = new KestrelServerOptions { AddServerHeader = false, ApplicationServices = new ServiceCollection().BuildServiceProvider() };
            kestrel.Listen(IPAddress.Loopback, ((IPEndPoint)listen.LocalEndPoint!).Port, l => l.Protocols = HttpProtocols.Http1);
            var transport = new HandoffTransport(new SocketTransportOptions(), loggerFactory);
            var server = new KestrelServer(Options.Create(kestrel), transport, loggerFactory);
            await server.StartAsync(new ProxyApplication(handler), CancellationToken.None);
            return new Harness(listen, transport, server);
        }

        public static Socket Listen()
        {
            var listen = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listen.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listen.Listen();
            return listen;
        }

        public static async Task<(Socket Client, Socket Server)> ConnectAsync(Socket listen)
        {
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            var accept = listen.AcceptAsync();
            await client.ConnectAsync(listen.LocalEndPoint!);
            return (client, await accept);
        }

        public Task<(Socket Client, Socket Server)> ConnectAsync() => ConnectAsync(_listen);

        public async Task StopAsync()
        {
            if (!_stopped)
            {
                _stopped = true;
                using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _server.StopAsync(drain.Token);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            _server.Dispose();
            await Transport.DisposeAsync();
            _listen.Dispose();
        }
    }
}
