using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Security;

namespace Trellis.Proxy.Listeners;

/// <summary>The verified mTLS peer of a connection, for the Kestrel path (set on handed-over and on Kestrel's own mTLS connections).</summary>
internal sealed class PeerIdentityFeature(PeerIdentity peer)
{
    public PeerIdentity Peer => peer;
}

/// <summary>
/// An mTLS connection the fast path hands to Kestrel (what only the Kestrel path serves): Kestrel reads the decrypted
/// stream through a pipe, the bytes already read first, and finds the features its own TLS middleware would have set
/// (ALPN decides HTTP/1.1 or HTTP/2; the client certificate) and the peer's identity (<see cref="PeerIdentityFeature"/>).
/// </summary>
internal sealed class TlsHandoffConnection : ConnectionContext, ITlsConnectionFeature, ITlsApplicationProtocolFeature
{
    private readonly TlsClientTransport _tls;
    private readonly CancellationTokenSource _closed = new();
    private readonly FeatureCollection _features = new();
    private int _disposed;

    public TlsHandoffConnection(TlsClientTransport tls, byte[] prefix)
    {
        _tls = tls;
        var input = PipeReader.Create(new PrefixedStream(prefix, prefix.Length, tls.Stream), new StreamPipeReaderOptions(leaveOpen: true));
        var output = PipeWriter.Create(tls.Stream, new StreamPipeWriterOptions(leaveOpen: true));
        Transport = new DuplexPipe(input, output);
        LocalEndPoint = tls.Socket.LocalEndPoint;
        RemoteEndPoint = tls.Socket.RemoteEndPoint;
        ConnectionClosed = _closed.Token;
        ClientCertificate = tls.Stream.RemoteCertificate as X509Certificate2;
        _features.Set<ITlsConnectionFeature>(this);
        _features.Set<ITlsApplicationProtocolFeature>(this);
        _features.Set(new PeerIdentityFeature(tls.Peer!));
    }

    public override IDuplexPipe Transport { get; set; }

    public override string ConnectionId { get; set; } = "tls-" + Guid.NewGuid().ToString("N")[..12];

    public override IFeatureCollection Features => _features;

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public override CancellationToken ConnectionClosed { get; set; }

    public X509Certificate2? ClientCertificate { get; set; }

    public ReadOnlyMemory<byte> ApplicationProtocol => _tls.Stream.NegotiatedApplicationProtocol.Protocol;

    public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult(ClientCertificate);

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _tls.Dispose(); // ends Kestrel's pending read and write
        Close();
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await Transport.Input.CompleteAsync();
            await Transport.Output.CompleteAsync();
            _tls.Dispose();
            Close();
            _closed.Dispose();
        }

        await base.DisposeAsync();
    }

    private void Close()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Disposed already: closed.
        }
    }

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
