using Microsoft.Extensions.Logging;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Security.Tls;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Tcp;

/// <summary>
/// What every TCP listener of a proxy shares: the current snapshot, telemetry, options, clock and log, and the mesh's TLS
/// (an inbound relay terminates mesh mTLS with it; null in a proxy without identities).
/// </summary>
internal sealed class TcpServices(SnapshotHolder snapshots, ProxyTelemetry telemetry, ProxyServerOptions options, TimeProvider time, ILogger log, MeshTls? tls = null)
{
    /// <summary>Istio's default connect timeout (<c>connectTimeout</c> of a DestinationRule's <c>tcp</c> settings).</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Envoy's <c>tcp_proxy</c> idle timeout when the DestinationRule sets none (Istio's documented default).</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromHours(1);

    public SnapshotHolder Snapshots { get; } = snapshots;

    public ProxyTelemetry Telemetry { get; } = telemetry;

    public ProxyServerOptions Options { get; } = options;

    public TimeProvider Time { get; } = time;

    public ILogger Log { get; } = log;

    public MeshTls? Tls { get; } = tls;
}
