using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Trellis.Proxy.Forwarding;

namespace Trellis.Proxy.Http1;

/// <summary>
/// One keep-alive HTTP/1.1 connection to an upstream endpoint, owned by one exchange at a time:
/// its socket, its read buffer (with the bytes read but not yet used), and its parsed response head.
/// </summary>
internal sealed class UpstreamConnection : IDisposable
{
    public const int BufferSize = 16 * 1024;

    public UpstreamConnection(Upstream.IUpstreamTransport transport, UpstreamConnectionPool.Key key, long createdAt)
    {
        Transport = transport;
        PoolKey = key;
        CreatedAt = createdAt;
    }

    /// <summary>The bytes' carrier (plain TCP, or TLS): every send and receive goes through it.</summary>
    public Upstream.IUpstreamTransport Transport { get; }

    /// <summary>Where the connection goes back to when its exchange ends cleanly.</summary>
    public UpstreamConnectionPool.Key PoolKey { get; }

    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken token) => Transport.SendAsync(data, token);

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken token) => Transport.ReceiveAsync(buffer, token);

    public byte[] Buffer { get; } = new byte[BufferSize];

    /// <summary>Unused bytes are <c>Buffer[Start..End]</c>.</summary>
    public int Start { get; set; }

    public int End { get; set; }

    public ResponseHead Head { get; } = new();

    public long CreatedAt { get; }

    /// <summary>Exchanges this connection carried to a clean end.</summary>
    public int Requests { get; set; }

    /// <summary>After this many exchanges the connection is closed instead of pooled (<c>maxRequestsPerConnection</c>); 0 for no limit.</summary>
    public int RequestLimit { get; init; }

    /// <summary>Once this old the connection is closed instead of pooled (<c>maxConnectionDuration</c>, else the pool's lifetime).</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.MaxValue;

    public long IdleSince { get; set; }

    /// <summary>Whether it has carried an exchange before this one: a failure before any answer then may just be a stale keep-alive.</summary>
    public bool Reused { get; set; }

    public void Dispose() => Transport.Dispose();

    private static readonly byte[] ContinueHead = "HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray();

    /// <inheritdoc cref="ReadResponseHeadAsync(Listeners.IClientTransport?, TaskCompletionSource?, CancellationToken)"/>
    public ValueTask<ForwardError> ReadResponseHeadAsync(Listeners.IClientTransport? continueTo, CancellationToken token) => ReadResponseHeadAsync(continueTo, null, token);

    /// <summary>
    /// Reads until a final (non-1xx) response head is at <see cref="Start"/>, parsed into <see cref="Head"/>.
    /// Interim responses are dropped, as SocketsHttpHandler drops them, except that a 100 goes to
    /// <paramref name="continueTo"/> when given (the fast path's client that sent Expect: 100-continue)
    /// and completes <paramref name="continued"/> when given (the pooled forwarder, which holds the body
    /// back until then). A 101 is an error: neither path asks to switch protocols here.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ForwardError> ReadResponseHeadAsync(Listeners.IClientTransport? continueTo, TaskCompletionSource? continued, CancellationToken token)
    {
        while (true)
        {
            var parse = End > Start ? Head.Parse(Buffer.AsSpan(Start, End - Start)) : HeadParse.Incomplete;
            if (parse == HeadParse.Unsupported)
            {
                return ForwardError.UpstreamRequest;
            }

            if (parse == HeadParse.Complete)
            {
                if (Head.Status >= 200)
                {
                    return ForwardError.None;
                }

                if (Head.Status == 101)
                {
                    return ForwardError.UpstreamRequest;
                }

                if (Head.Status == 100)
                {
                    continued?.TrySetResult();
                }

                if (Head.Status == 100 && continueTo is not null)
                {
                    try
                    {
                        await continueTo.SendAsync(ContinueHead, CancellationToken.None);
                    }
                    catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                    {
                        return ForwardError.RequestCanceled;
                    }
                }

                Start += Head.Length;
                continue;
            }

            if (Start > 0)
            {
                Buffer.AsSpan(Start, End - Start).CopyTo(Buffer);
                End -= Start;
                Start = 0;
            }

            if (End == Buffer.Length)
            {
                return ForwardError.UpstreamRequest; // a head larger than the buffer
            }

            int read;
            try
            {
                read = await Transport.ReceiveAsync(Buffer.AsMemory(End), token);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return ForwardError.UpstreamRequest;
            }

            if (read == 0)
            {
                return ForwardError.UpstreamRequest;
            }

            End += read;
        }
    }
}
