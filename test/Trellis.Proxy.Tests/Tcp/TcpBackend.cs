using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Trellis.Proxy.Tests.Tcp;

/// <summary>
/// A TCP server on 127.0.0.1 for the relay tests. Its default behaviour is a request/response protocol that needs
/// half-close: it reads until the client's FIN, then answers <c>NAME:</c> followed by what it read, and closes.
/// </summary>
internal sealed class TcpBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Func<Socket, CancellationToken, Task> _serve;
    private int _connections;

    public TcpBackend(string name, Func<Socket, CancellationToken, Task>? serve = null)
    {
        Name = name;
        _serve = serve ?? EchoAfterEofAsync;
        _listener.Start();
        _loop = AcceptAsync();
    }

    public string Name { get; }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Connections => Volatile.Read(ref _connections);

    private async Task AcceptAsync()
    {
        var open = new List<Task>();
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                Interlocked.Increment(ref _connections);
                open.Add(Task.Run(async () =>
                {
                    using (socket)
                    {
                        try
                        {
                            await _serve(socket, _stop.Token);
                        }
                        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
                        {
                        }
                    }
                }));
            }
        }
        catch (OperationCanceledException)
        {
        }

        await Task.WhenAll(open);
    }

    private async Task EchoAfterEofAsync(Socket socket, CancellationToken token)
    {
        var received = await ReadToEndAsync(socket, token);
        await socket.SendAsync(Encoding.ASCII.GetBytes(Name + ":").Concat(received).ToArray(), SocketFlags.None, token);
        socket.Shutdown(SocketShutdown.Send);
    }

    public static async Task<byte[]> ReadToEndAsync(Socket socket, CancellationToken token)
    {
        var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, token)) > 0)
        {
            all.Write(buffer, 0, read);
        }

        return all.ToArray();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
