using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Tests.Http1;

/// <summary>What a <see cref="RawUpstream"/> answers to one request: exact bytes, then whether it closes the connection.</summary>
internal readonly record struct RawAnswer(string Bytes, bool Close = false);

/// <summary>
/// An upstream on 127.0.0.1 that writes exact response bytes, for framings Kestrel would never send
/// (close-delimited bodies, chunk extensions, trailers, stale keep-alives). Reads each request head
/// and its Content-Length body, then asks <c>answer(head, requestIndexOnConnection)</c>.
/// </summary>
internal sealed class RawUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<string, int, RawAnswer> _answer;
    private readonly ConcurrentBag<Socket> _sockets = [];
    private readonly Task _accepting;
    private int _connections;
    private int _closed;

    private RawUpstream(Func<string, int, RawAnswer> answer)
    {
        _answer = answer;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public EndpointConfig Endpoint => new("127.0.0.1", Port);

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Connections this upstream has closed after an answer with <see cref="RawAnswer.Close"/> (its FIN is sent by then).</summary>
    public int Closed => Volatile.Read(ref _closed);

    /// <summary>Request heads in arrival order.</summary>
    public ConcurrentQueue<string> Heads { get; } = new();

    public static RawUpstream Start(Func<string, int, RawAnswer> answer) => new(answer);

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        await _accepting;
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return; // stopped (before the loop asked again: "not listening")
            }

            Interlocked.Increment(ref _connections);
            _sockets.Add(socket);
            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        var buffer = new byte[64 * 1024];
        var filled = 0;
        try
        {
            for (var index = 0; ; index++)
            {
                int headEnd;
                while ((headEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
                {
                    var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None);
                    if (read == 0)
                    {
                        return;
                    }

                    filled += read;
                }

                var head = Encoding.Latin1.GetString(buffer, 0, headEnd);
                var lengthLine = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                var used = headEnd + 4 + (lengthLine is null ? 0 : int.Parse(lengthLine[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture));
                while (filled < used)
                {
                    var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None);
                    if (read == 0)
                    {
                        return;
                    }

                    filled += read;
                }

                buffer.AsSpan(used, filled - used).CopyTo(buffer);
                filled -= used;
                Heads.Enqueue(head);
                var answer = _answer(head, index);
                await socket.SendAsync(Encoding.Latin1.GetBytes(answer.Bytes), SocketFlags.None);
                if (answer.Close)
                {
                    socket.Shutdown(SocketShutdown.Both);
                    Interlocked.Increment(ref _closed);
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The proxy or the test closed the connection.
        }
        finally
        {
            socket.Dispose();
        }
    }
}
