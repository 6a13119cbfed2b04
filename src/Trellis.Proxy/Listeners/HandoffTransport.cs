using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// A Kestrel transport that listens on nothing: the fast HTTP/1.1 path owns the listening socket
/// and hands it the connections it will not serve itself (upgrades, unusual syntax), together with
/// the bytes it already read. Kestrel then serves them over its ordinary socket transport
/// (<see cref="SocketConnectionContextFactory"/>), so endpoints, abort and socket features behave
/// as for a connection Kestrel accepted. One bound endpoint at a time.
/// </summary>
internal sealed class HandoffTransport : IConnectionListenerFactory, IAsyncDisposable
{
    private readonly SocketTransportOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly Lock _gate = new();
    private Listener? _listener;
    private bool _disposed;

    public HandoffTransport(SocketTransportOptions options, ILoggerFactory loggerFactory)
    {
        _options = options;
        _loggerFactory = loggerFactory;
    }

    /// <summary>Binds nothing; the listener reports <paramref name="endpoint"/> as its own.</summary>
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_listener is { IsUnbound: false })
            {
                throw new InvalidOperationException($"A hand-off transport serves one endpoint; {_listener.EndPoint} is bound.");
            }

            // The same settings Kestrel's own socket transport passes its context factory.
            var factory = new SocketConnectionContextFactory(
                new SocketConnectionFactoryOptions
                {
                    IOQueueCount = _options.IOQueueCount,
                    WaitForDataBeforeAllocatingBuffer = _options.WaitForDataBeforeAllocatingBuffer,
                    MaxReadBufferSize = _options.MaxReadBufferSize,
                    MaxWriteBufferSize = _options.MaxWriteBufferSize,
                    UnsafePreferInlineScheduling = _options.UnsafePreferInlineScheduling,
                },
                _loggerFactory.CreateLogger("Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets"));
            _listener = new Listener(endpoint, factory);
            return ValueTask.FromResult<IConnectionListener>(_listener);
        }
    }

    /// <summary>
    /// Gives a connected socket to Kestrel; <paramref name="prefix"/> holds the bytes already read
    /// from it and is copied, so the caller may reuse its buffer. Returns false, leaving the socket
    /// to the caller, when no listener is bound or it is unbound or disposed.
    /// </summary>
    public bool TryHand(Socket socket, ReadOnlySpan<byte> prefix)
    {
        // Under the gate so that an unbind cannot come between the check and the enqueue: once the
        // socket transport has started reading the socket, it can no longer be given back.
        lock (_gate)
        {
            if (_disposed || _listener is not { IsUnbound: false } listener)
            {
                return false;
            }

            if (socket.LocalEndPoint is IPEndPoint)
            {
                socket.NoDelay = _options.NoDelay; // what Kestrel's accept loop would have set
            }

            var inner = listener.Factory.Create(socket);
            var connection = prefix.IsEmpty
                ? inner
                : new PrefixedConnection(inner, prefix.ToArray(), _options.UnsafePreferInlineScheduling, _options.MaxReadBufferSize);
            return listener.Accepted.Writer.TryWrite(connection);
        }
    }

    /// <summary>
    /// Gives a fast-path client connection to Kestrel: a cleartext one as its socket (<see cref="TryHand(Socket, ReadOnlySpan{byte})"/>),
    /// an mTLS one as its decrypted stream (<see cref="TlsHandoffConnection"/>: a TLS session cannot change hands), with
    /// the TLS features Kestrel reads (ALPN, the client certificate) and the peer's verified identity.
    /// </summary>
    public bool TryHand(IClientTransport client, ReadOnlySpan<byte> prefix)
    {
        if (client is not TlsClientTransport tls)
        {
            return TryHand(client.Socket, prefix);
        }

        lock (_gate)
        {
            if (_disposed || _listener is not { IsUnbound: false } listener)
            {
                return false;
            }

            return listener.Accepted.Writer.TryWrite(new TlsHandoffConnection(tls, prefix.ToArray()));
        }
    }

    public async ValueTask DisposeAsync()
    {
        Listener? listener;
        lock (_gate)
        {
            _disposed = true;
            listener = _listener;
        }

        // Kestrel owns the listener's disposal (after its connections close); only stop hand-offs.
        if (listener is not null)
        {
            await listener.UnbindAsync();
        }
    }

    private sealed class Listener(EndPoint endPoint, SocketConnectionContextFactory factory) : IConnectionListener
    {
        private volatile bool _unbound;

        public EndPoint EndPoint { get; } = endPoint;

        public SocketConnectionContextFactory Factory { get; } = factory;

        public Channel<ConnectionContext> Accepted { get; } = Channel.CreateUnbounded<ConnectionContext>(new UnboundedChannelOptions { SingleReader = true });

        public bool IsUnbound => _unbound;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (await Accepted.Reader.WaitToReadAsync(cancellationToken))
            {
                if (Accepted.Reader.TryRead(out var connection))
                {
                    if (!_unbound)
                    {
                        return connection;
                    }

                    await connection.DisposeAsync();
                }
            }

            return null; // Kestrel's signal that the listener is done
        }

        public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            _unbound = true;
            Accepted.Writer.TryComplete();
            // Handed but never accepted: nobody else will close these.
            while (Accepted.Reader.TryRead(out var connection))
            {
                await connection.DisposeAsync();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await UnbindAsync();
            Factory.Dispose();
        }
    }

    /// <summary>
    /// The socket connection with the already-read bytes put back in front of its input: Kestrel
    /// reads a pipe that gets the prefix first, then whatever a pump copies from the socket.
    /// Everything else is the socket connection's own.
    /// </summary>
    private sealed class PrefixedConnection : ConnectionContext, IConnectionTransportFeature
    {
        private readonly ConnectionContext _inner;
        private readonly Pipe _input;
        private readonly Task _pump;
        private volatile bool _stopping;

        public PrefixedConnection(ConnectionContext inner, byte[] prefix, bool inlineScheduling, long? maxReadBufferSize)
        {
            _inner = inner;
            // Same back-pressure as the socket transport's own input pipe.
            var pause = maxReadBufferSize ?? 0;
            _input = new Pipe(new PipeOptions(
                readerScheduler: inlineScheduling ? PipeScheduler.Inline : PipeScheduler.ThreadPool,
                pauseWriterThreshold: pause,
                resumeWriterThreshold: pause / 2,
                useSynchronizationContext: false));
            Transport = new DuplexPipe(_input.Reader, inner.Transport.Output);
            // Code that finds the transport through the features sees the prefixed one too.
            inner.Features.Set<IConnectionTransportFeature>(this);
            _pump = PumpAsync(prefix);
        }

        public override IDuplexPipe Transport { get; set; }

        public override string ConnectionId { get => _inner.ConnectionId; set => _inner.ConnectionId = value; }

        public override IFeatureCollection Features => _inner.Features;

        public override IDictionary<object, object?> Items { get => _inner.Items; set => _inner.Items = value; }

        public override EndPoint? LocalEndPoint { get => _inner.LocalEndPoint; set => _inner.LocalEndPoint = value; }

        public override EndPoint? RemoteEndPoint { get => _inner.RemoteEndPoint; set => _inner.RemoteEndPoint = value; }

        public override CancellationToken ConnectionClosed { get => _inner.ConnectionClosed; set => _inner.ConnectionClosed = value; }

        public override void Abort() => _inner.Abort();

        public override void Abort(ConnectionAbortedException abortReason) => _inner.Abort(abortReason);

        public override async ValueTask DisposeAsync()
        {
            // Stop the pump before the socket connection completes the input it reads: a pipe reader
            // must not be completed while a read on it is in flight.
            _stopping = true;
            _inner.Transport.Input.CancelPendingRead();
            _input.Writer.CancelPendingFlush();
            await _pump;
            await _inner.DisposeAsync();
            await base.DisposeAsync();
        }

        private async Task PumpAsync(byte[] prefix)
        {
            var source = _inner.Transport.Input;
            var target = _input.Writer;
            Exception? error = null;
            try
            {
                var flush = await target.WriteAsync(prefix);
                while (!flush.IsCompleted && !flush.IsCanceled && !_stopping)
                {
                    var read = await source.ReadAsync();
                    if (read.IsCanceled)
                    {
                        break;
                    }

                    foreach (var segment in read.Buffer)
                    {
                        target.Write(segment.Span);
                    }

                    source.AdvanceTo(read.Buffer.End);
                    if (read.IsCompleted)
                    {
                        break;
                    }

                    flush = await target.FlushAsync();
                }
            }
            catch (Exception ex)
            {
                // A reset or abort of the socket: Kestrel sees it as it would have from the socket.
                error = ex;
            }

            // Completing the writer flushes what the last read wrote.
            await target.CompleteAsync(error);
            // Tells the socket transport the input is no longer read, as Kestrel completing it would.
            await source.CompleteAsync();
        }

        private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
    }
}
