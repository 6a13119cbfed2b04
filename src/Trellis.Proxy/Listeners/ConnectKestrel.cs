using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Trellis.Proxy.Http1;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Tcp;
using Trellis.Proxy.Upstream;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// HTTP CONNECT on an outbound listener Kestrel serves by itself (the fast path off). Kestrel parses a CONNECT but
/// gives the application no way to tunnel it (no upgrade, no body), so this connection middleware takes a connection that
/// opens with <c>CONNECT </c> before HTTP runs: the head is parsed by the fast path's parser, judged and tunnelled by
/// <see cref="ConnectTunnel"/> exactly as on the fast path. Any other connection goes on to Kestrel untouched, after one
/// look at its first byte. A CONNECT later on a kept-alive connection reaches the request delegate, which answers 501
/// (<see cref="ListenerRequestHandler"/>): HTTP clients open a fresh connection for each tunnel.
/// </summary>
internal static class ConnectKestrel
{
    private const int MaxHead = 32 * 1024;

    public static void Use(ListenOptions listen, string listener, TcpServices tcp)
    {
        listen.Use(next => async connection =>
        {
            var input = connection.Transport.Input;
            var read = await input.ReadAsync(connection.ConnectionClosed);
            if (read.Buffer.IsEmpty || read.Buffer.FirstSpan[0] != (byte)'C')
            {
                input.AdvanceTo(read.Buffer.Start, read.Buffer.Start);
                await next(connection); // not a CONNECT: no cost beyond this look
                return;
            }

            var head = new RequestHead();
            HeadParse parse;
            byte[] bytes;
            while (true)
            {
                bytes = read.Buffer.Slice(0, Math.Min(read.Buffer.Length, MaxHead)).ToArray();
                parse = head.Parse(bytes);
                if (parse != HeadParse.Incomplete || read.IsCompleted || bytes.Length >= MaxHead)
                {
                    break;
                }

                input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                read = await input.ReadAsync(connection.ConnectionClosed);
            }

            if (parse != HeadParse.Connect)
            {
                input.AdvanceTo(read.Buffer.Start, read.Buffer.Start);
                await next(connection); // a COPY, a malformed head: Kestrel's to answer
                return;
            }

            input.AdvanceTo(read.Buffer.GetPosition(bytes.Length)); // all read: the bytes after the head are the prefix
            var client = new PipeRelayTransport(connection.Transport, connection.RemoteEndPoint?.ToString() ?? string.Empty);
            var destinations = tcp.Snapshots.Current.DestinationsByListener.GetValueOrDefault(listener);
            var decision = ConnectTunnel.Judge(head, bytes, destinations, out var target, out var problem);
            if (decision.Routes is null)
            {
                await client.TrySendAsync(ConnectTunnel.Reply(decision.Status, ResponseFlags.None, problem));
                return;
            }

            // Not ConnectionClosed as the stop: Kestrel fires it at the client's FIN, which a tunnel passes on and outlives.
            // Kestrel stopping aborts the connection, which ends the relay's reads and writes.
            var local = (connection.LocalEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
            var remote = (connection.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
            await ConnectTunnel.RunAsync(
                client, tcp, listener, target, decision, local, remote, bytes.AsMemory(head.Length),
                (status, flags) => client.TrySendAsync(ConnectTunnel.Reply(status, flags, null)), CancellationToken.None);
        });
    }

    /// <summary>A Kestrel connection's pipes as one side of the TCP relay.</summary>
    private sealed class PipeRelayTransport(IDuplexPipe pipe, string remote) : IUpstreamTransport
    {
        public string Remote => remote;

        public async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken token)
        {
            var result = await pipe.Output.WriteAsync(data, token);
            ObjectDisposedException.ThrowIf(result.IsCompleted || result.IsCanceled, pipe); // the relay's "that side is gone"
        }

        public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken token)
        {
            var read = await pipe.Input.ReadAsync(token);
            var available = read.Buffer;
            if (available.IsEmpty)
            {
                pipe.Input.AdvanceTo(available.End);
                return 0; // completed: the client finished sending
            }

            var taken = (int)Math.Min(available.Length, buffer.Length);
            available.Slice(0, taken).CopyTo(buffer.Span);
            pipe.Input.AdvanceTo(available.GetPosition(taken));
            return taken;
        }

        /// <summary>Kestrel ends the socket when the output completes (both halves): an upstream's FIN ends the tunnel here.</summary>
        public async ValueTask ShutdownSendAsync() => await pipe.Output.CompleteAsync();

        public async ValueTask<bool> TrySendAsync(byte[] data)
        {
            try
            {
                await SendAsync(data, CancellationToken.None);
                return true;
            }
            catch (Exception ex) when (ex is ObjectDisposedException or IOException or InvalidOperationException)
            {
                return false;
            }
        }

        public void Dispose()
        {
        }
    }
}
