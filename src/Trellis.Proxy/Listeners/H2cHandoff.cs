using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// The Kestrel path for h2c connections of an <c>Http1AndHttp2</c> cleartext listener. The fast path tells h2c from
/// HTTP/1.1 by the preface, but the listener's own Kestrel server speaks HTTP/1.1 only (Kestrel cannot detect h2c
/// prior knowledge beside HTTP/1.1 on one endpoint), so an h2c connection it must hand over (a route with an HTTP/2
/// upstream: gRPC from a workload through its outbound listener) would be refused with HTTP_1_1_REQUIRED. It goes to
/// this second server instead, an h2c-only endpoint on the same address that binds nothing, started on first use so
/// that listeners that never need it cost no second server.
/// </summary>
internal sealed class H2cHandoff : IAsyncDisposable
{
    private readonly Func<KestrelServerOptions> _options;
    private readonly IPEndPoint _endpoint;
    private readonly SocketTransportOptions _socketOptions;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ProxyApplication _application;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private HandoffTransport? _transport;
    private KestrelServer? _server;
    private bool _stopped;

    public H2cHandoff(Func<KestrelServerOptions> options, IPEndPoint endpoint, SocketTransportOptions socketOptions, ILoggerFactory loggerFactory, ProxyApplication application)
    {
        _options = options;
        _endpoint = endpoint;
        _socketOptions = socketOptions;
        _loggerFactory = loggerFactory;
        _application = application;
    }

    /// <summary>Gives the connection to the h2c server, starting it first if needed; false when stopped (the caller closes it).</summary>
    public async ValueTask<bool> TryHandAsync(IClientTransport client, ReadOnlyMemory<byte> prefix)
    {
        var transport = Volatile.Read(ref _transport) ?? await StartAsync();
        return transport is not null && transport.TryHand(client, prefix.Span);
    }

    public async Task StopAsync(CancellationToken token)
    {
        await _gate.WaitAsync(CancellationToken.None);
        try
        {
            _stopped = true;
            if (_server is not null)
            {
                await _server.StopAsync(token);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        _server?.Dispose();
        if (_transport is not null)
        {
            await _transport.DisposeAsync();
        }

        _gate.Dispose();
    }

    private async ValueTask<HandoffTransport?> StartAsync()
    {
        await _gate.WaitAsync(CancellationToken.None);
        try
        {
            if (_stopped || _transport is not null)
            {
                return _stopped ? null : _transport;
            }

            var options = _options();
            options.Listen(_endpoint, l => l.Protocols = HttpProtocols.Http2);
            var transport = new HandoffTransport(_socketOptions, _loggerFactory);
            var server = new KestrelServer(Options.Create(options), transport, _loggerFactory);
            await server.StartAsync(_application, CancellationToken.None);
            _server = server;
            Volatile.Write(ref _transport, transport);
            return transport;
        }
        finally
        {
            _gate.Release();
        }
    }
}
