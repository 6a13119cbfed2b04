namespace Trellis.Proxy.Upstream;

/// <summary>
/// The byte stream of one upstream connection, whatever carries it: a plain TCP socket today
/// (<see cref="TcpTransport"/>), TLS or mTLS when the security work adds them. The exchange code (both fast paths,
/// the Kestrel path's pooled forwarder, mirrors) only sends and receives through this, so a new transport plugs in
/// without touching it.
/// </summary>
internal interface IUpstreamTransport : IDisposable
{
    /// <summary>Sends all of <paramref name="data"/>; throws on a broken connection (the callers catch and classify).</summary>
    ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken token);

    /// <summary>Bytes read into <paramref name="buffer"/>, 0 at the end of the stream.</summary>
    ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken token);

    /// <summary>
    /// Ends the sending half only (the TCP relay passes a FIN on): <c>shutdown(SHUT_WR)</c>, after TLS's close_notify for a
    /// TLS transport; receiving goes on. Throws on a broken connection, as the sends do.
    /// </summary>
    ValueTask ShutdownSendAsync();

    /// <summary>The peer, for logs.</summary>
    string Remote { get; }
}

/// <summary>
/// Opens transports to an endpoint: plain TCP (<see cref="TcpConnector"/>) for every cluster today. A cluster's
/// connector is part of its pooled connections' key, so connections of different transports (or TLS identities)
/// never mix.
/// </summary>
internal interface IUpstreamConnector
{
    /// <summary>A connected transport, or null with the error; bounded by <paramref name="token"/> (the connect timeout, a client that leaves).</summary>
    ValueTask<(IUpstreamTransport? Transport, Exception? Error)> ConnectAsync(System.Net.EndPoint endpoint, CancellationToken token);
}
