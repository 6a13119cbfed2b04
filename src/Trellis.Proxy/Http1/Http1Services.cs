using Microsoft.Extensions.Logging;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Http1;

/// <summary>What every fast-path listener of one <see cref="ProxyServer"/> shares.</summary>
internal sealed class Http1Services
{
    public Http1Services(
        SnapshotHolder snapshots, UpstreamConnectionPool pool, ProxyServerOptions options, TimeProvider time, ILogger accessLog, ILogger forwardLog,
        Pipeline.RequestPipeline pipeline)
    {
        Pipeline = pipeline;
        Snapshots = snapshots;
        Pool = pool;
        Options = options;
        Time = time;
        AccessLog = accessLog;
        ForwardLog = forwardLog;
    }

    public SnapshotHolder Snapshots { get; }

    /// <summary>What every request of every path runs (<see cref="Pipeline.RequestPipeline"/>).</summary>
    public Pipeline.RequestPipeline Pipeline { get; }

    public UpstreamConnectionPool Pool { get; }

    public ProxyServerOptions Options { get; }

    public TimeProvider Time { get; }

    public ILogger AccessLog { get; }

    /// <summary>Forwarding failures, under the same category as <see cref="Forwarding.HttpForwarder"/>'s.</summary>
    public ILogger ForwardLog { get; }

    public ResponseDate Date { get; } = new();

    /// <summary>The TCP relay's services: a CONNECT tunnel is relayed as any TCP connection (null in some tests: CONNECT is refused).</summary>
    public Tcp.TcpServices? Tcp { get; init; }

    /// <summary>mTLS between proxies (both sides, every engine); null in a proxy built without it (some tests).</summary>
    public Security.Tls.MeshTls? Tls { get; init; }
}
