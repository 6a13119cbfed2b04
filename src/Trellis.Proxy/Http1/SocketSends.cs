using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Trellis.Proxy.Http1;

/// <summary>Whole-buffer sends for both paths' raw connections; a send the kernel takes at once (the usual case) completes without an async state machine.</summary>
internal static class SocketSends
{
    public static ValueTask AllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken token)
    {
        var send = socket.SendAsync(data, SocketFlags.None, token);
        if (send.IsCompletedSuccessfully)
        {
            var sent = send.Result;
            return sent == data.Length ? default : RestAsync(socket, data[sent..], token);
        }

        return AwaitAsync(socket, send, data, token);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask AwaitAsync(Socket socket, ValueTask<int> send, ReadOnlyMemory<byte> data, CancellationToken token)
    {
        var sent = await send;
        await RestAsync(socket, data[sent..], token);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask RestAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken token)
    {
        while (!data.IsEmpty)
        {
            var sent = await socket.SendAsync(data, SocketFlags.None, token);
            data = data[sent..];
        }
    }
}
