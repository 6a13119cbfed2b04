using System.Net;
using System.Net.Sockets;
using System.Text;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Tests.Http1;

/// <summary>
/// An upstream on 127.0.0.1 whose every connection runs a test's script: for exchanges that need
/// the upstream to wait, to watch what arrives when, or to answer before reading the body
/// (<see cref="RawUpstream"/> answers only after a whole request).
/// </summary>
internal sealed class ScriptedUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<ScriptedConnection, Task> _script;
    private readonly List<Socket> _sockets = [];
    private readonly List<Task> _running = [];
    private readonly Task _accepting;
    private int _connections;

    private ScriptedUpstream(Func<ScriptedConnection, Task> script)
    {
        _script = script;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public EndpointConfig Endpoint => new("127.0.0.1", ((IPEndPoint)_listener.LocalEndpoint).Port);

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public static ScriptedUpstream Start(Func<ScriptedConnection, Task> script) => new(script);

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _accepting;
        Task[] running;
        lock (_sockets)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }

            running = [.. _running];
        }

        await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(static _ => { }, TaskScheduler.Default);
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
                return; // stopped
            }

            Interlocked.Increment(ref _connections);
            lock (_sockets)
            {
                _sockets.Add(socket);
                _running.Add(RunAsync(socket));
            }
        }
    }

    private async Task RunAsync(Socket socket)
    {
        try
        {
            await _script(new ScriptedConnection(socket));
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException or OperationCanceledException)
        {
            // The proxy or the test closed the connection.
        }
        finally
        {
            socket.Dispose();
        }
    }
}

/// <summary>One upstream connection as a script sees it: reads heads and bytes, writes exact bytes.</summary>
internal sealed class ScriptedConnection(Socket socket)
{
    private readonly byte[] _buffer = new byte[256 * 1024];
    private int _filled;

    public Socket Socket => socket;

    /// <summary>Reads up to the end of a request head; bytes after it stay for <see cref="ReadAsync"/>. Null when the proxy closed first.</summary>
    public async Task<string?> ReadHeadAsync()
    {
        int end;
        while ((end = _buffer.AsSpan(0, _filled).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (!await FillAsync())
            {
                return null;
            }
        }

        var head = Encoding.Latin1.GetString(_buffer, 0, end);
        Drop(end + 4);
        return head;
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes (less if the proxy closes first).</summary>
    public async Task<string> ReadAsync(int count)
    {
        while (_filled < count && await FillAsync())
        {
        }

        var taken = Math.Min(count, _filled);
        var text = Encoding.Latin1.GetString(_buffer, 0, taken);
        Drop(taken);
        return text;
    }

    /// <summary>Reads and drops whatever arrives until the proxy closes or resets; how many bytes that was.</summary>
    public async Task<long> DiscardAsync()
    {
        long total = _filled;
        _filled = 0;
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(_buffer, SocketFlags.None)) > 0)
            {
                total += read;
            }
        }
        catch (SocketException)
        {
            // A close with a send still pending is a reset.
        }

        return total;
    }

    /// <summary>Bytes that arrived and were not read yet, after giving them <paramref name="wait"/> to arrive.</summary>
    public async Task<int> PendingBytesAsync(TimeSpan wait)
    {
        await Task.Delay(wait);
        return _filled + socket.Available;
    }

    /// <summary>True once the proxy closes (or resets) the connection; false if it sends more within the limit.</summary>
    public async Task<bool> ClosedAsync(TimeSpan within)
    {
        using var limit = new CancellationTokenSource(within);
        try
        {
            return await socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None, limit.Token) == 0;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async Task SendAsync(string text)
    {
        var bytes = Encoding.Latin1.GetBytes(text);
        var sent = 0;
        while (sent < bytes.Length)
        {
            sent += await socket.SendAsync(bytes.AsMemory(sent), SocketFlags.None);
        }
    }

    private async Task<bool> FillAsync()
    {
        var read = await socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None);
        _filled += read;
        return read > 0;
    }

    private void Drop(int count)
    {
        _buffer.AsSpan(count, _filled - count).CopyTo(_buffer);
        _filled -= count;
    }
}
