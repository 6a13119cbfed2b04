using System.Net;
using System.Net.Sockets;
using Trellis.Proxy.Listeners;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Tcp;
using Trellis.Proxy.Upstream;

namespace Trellis.Proxy.Http1;

/// <summary>HTTP CONNECT on the fast path: the connection becomes a tunnel (<see cref="ConnectTunnel"/>) and never serves HTTP again.</summary>
internal sealed partial class Http1Connection
{
    /// <summary>
    /// Judges the CONNECT head just parsed, answers a refusal at once, or hands the connection to the TCP relay with
    /// whatever the client sent after the head; the connection closes when the tunnel does.
    /// </summary>
    private async ValueTask<Next> TunnelAsync()
    {
        _waitingForHead = false; // a tunnel may idle far longer than a keep-alive wait: the relay's idle timeout governs it
        var destinations = _services.Tcp is null ? null : _services.Snapshots.Current.DestinationsByListener.GetValueOrDefault(_listener.Name);
        var decision = ConnectTunnel.Judge(_head, _in.AsSpan(0, _filled), destinations, out var target, out var problem);
        if (decision.Routes is null)
        {
            await AnswerConnectAsync(decision.Status, ResponseFlags.None, problem);
            return Next.Close;
        }

        var local = (_socket.LocalEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        var remote = (_socket.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        var prefix = _in.AsMemory(_head.Length, _filled - _head.Length); // the client's first tunnel bytes, if it did not wait
        await ConnectTunnel.RunAsync(
            new ClientRelayTransport(_transport), _services.Tcp!, _listener.Name, target, decision, local, remote, prefix,
            (status, flags) => AnswerConnectAsync(status, flags, null), _listener.RelaysStopping);
        return Next.Close;
    }

    private async ValueTask<bool> AnswerConnectAsync(int status, ResponseFlags flags, string? problem)
    {
        try
        {
            await _transport.SendAsync(ConnectTunnel.Reply(status, flags, problem), CancellationToken.None);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }
}

/// <summary>A fast-path client connection as one side of the TCP relay (<see cref="TcpRelay"/>), which cancels its reads.</summary>
internal sealed class ClientRelayTransport(IClientTransport client) : IUpstreamTransport
{
    public string Remote => client.Socket.RemoteEndPoint?.ToString() ?? string.Empty;

    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken token) => client.SendAsync(data, token);

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken token)
    {
        if (client is SocketClientTransport plain)
        {
            return await plain.Socket.ReceiveAsync(buffer, SocketFlags.None, token);
        }

        // A TLS client's read takes no token: a cancelled relay closes the connection under it instead.
        await using var closeOnCancel = token.Register(static c => ((IClientTransport)c!).Dispose(), client);
        return await client.ReceiveAsync(buffer);
    }

    public ValueTask ShutdownSendAsync()
    {
        client.ShutdownSend();
        return ValueTask.CompletedTask;
    }

    /// <summary>The connection belongs to its <see cref="Http1Connection"/>, which closes it.</summary>
    public void Dispose()
    {
    }
}
