using System.Net;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.LoadBalancing;

/// <summary>
/// A passthrough endpoint (Istio's <c>PassthroughCluster</c> under ALLOW_ANY, a ServiceEntry with resolution NONE, a
/// PASSTHROUGH DestinationRule) is whatever the request names. A request naming one of this proxy's own listeners
/// (<c>curl http://127.0.0.1:OUTBOUND/</c> without another Host) would be sent back to the proxy for ever, each hop a
/// new connection; such a request is refused instead (no healthy upstream).
/// </summary>
internal static class PassthroughLoop
{
    /// <summary>Whether <paramref name="endpoint"/> is a listener of <paramref name="snapshot"/> on a local address.</summary>
    public static bool IsSelf(EndpointState endpoint, ProxySnapshot snapshot)
    {
        var listeners = snapshot.Listeners ?? [];
        var listens = false;
        foreach (var listener in listeners)
        {
            listens |= listener.Port == endpoint.Port;
        }

        // Only literal local names and addresses are recognised: a name that resolves here is not looked up on the request path.
        return listens && (endpoint.Address.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(endpoint.Address, out var ip) && (IPAddress.IsLoopback(ip) || ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)
                || listeners.Any(l => l.Port == endpoint.Port && IPAddress.TryParse(l.Address, out var own) && own.Equals(ip)))));
    }
}
