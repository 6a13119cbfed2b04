using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Tcp;

/// <summary>
/// A listener that relays TCP (<see cref="ListenerConfig.Tcp"/>): its own socket and accept loop, one
/// <see cref="TcpConnection"/> per accepted connection. Routes are read from the current snapshot per connection, so a
/// push that changes only routes keeps the listener (and its open connections) as they are.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "StopAsync disposes them: a listener's owner always stops it, as for ProxyListener.")]
internal sealed class TcpProxyListener
{
    private readonly Socket _socket;
    private readonly string _name;
    private readonly TcpServices _services;
    private readonly CancellationTokenSource _stopAccepting = new();
    private readonly CancellationTokenSource _stopConnections = new();
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    private Task _accepting = Task.CompletedTask;

    private TcpProxyListener(Socket socket, string name, TcpServices services)
    {
        _socket = socket;
        _name = name;
        _services = services;
        BoundEndPoint = (IPEndPoint)socket.LocalEndPoint!;
    }

    public IPEndPoint BoundEndPoint { get; }

    /// <summary>Binds and starts accepting; throws <see cref="SocketException"/> when the address cannot be bound (the push is NACKed).</summary>
    public static TcpProxyListener Start(ListenerConfig config, TcpServices services)
    {
        var address = IPAddress.Parse(config.Address);
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new IPEndPoint(address, config.Port));
            socket.Listen(512);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var listener = new TcpProxyListener(socket, config.Name, services);
        listener._accepting = listener.AcceptLoopAsync();
        TcpLog.ListenerStarted(services.Log, config.Name, listener.BoundEndPoint);
        return listener;
    }

    /// <summary>Stops accepting; open connections get <paramref name="drain"/> to finish, then are closed.</summary>
    public async Task StopAsync(TimeSpan drain)
    {
        await _stopAccepting.CancelAsync();
        _socket.Dispose();
        await _accepting;
        var open = Task.WhenAll(_connections.Keys);
        if (await Task.WhenAny(open, Task.Delay(drain, _services.Time)) != open)
        {
            await _stopConnections.CancelAsync();
            await open;
        }

        TcpLog.ListenerStopped(_services.Log, _name, BoundEndPoint);
        _stopAccepting.Dispose();
        _stopConnections.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        await Task.Yield();
        while (!_stopAccepting.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(_stopAccepting.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // A connection that failed before it was accepted (reset in the backlog) or a passing shortage of
                // descriptors: the listener goes on.
                TcpLog.AcceptFailed(_services.Log, _name, ex);
                continue;
            }

            client.NoDelay = true;
            var connection = RunAsync(client);
            _connections.TryAdd(connection, 0);
            _ = connection.ContinueWith(static (t, s) => ((ConcurrentDictionary<Task, byte>)s!).TryRemove(t, out _), _connections, TaskScheduler.Default);
        }
    }

    private async Task RunAsync(Socket client)
    {
        await Task.Yield(); // the accept loop goes on at once
        try
        {
            await TcpConnection.HandleAsync(client, _name, _services, _stopConnections.Token);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection's failures are reported by it; these can only come from a listener being torn down.
        }
    }
}
