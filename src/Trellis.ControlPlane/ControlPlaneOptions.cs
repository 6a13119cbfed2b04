using System.Net;

namespace Trellis.ControlPlane;

public sealed record ControlPlaneOptions
{
    /// <summary>Where the store keeps its log. Required.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>
    /// The HTTP API (kubectl-like paths, apply, registry). Loopback by default: until the security work
    /// adds authentication, anyone who can reach this port can change the mesh.
    /// </summary>
    public IPEndPoint ApiEndpoint { get; init; } = new(IPAddress.Loopback, 15000);

    /// <summary>The push stream to proxies: HTTP/2 cleartext with prior knowledge (Kestrel cannot offer h2c beside HTTP/1.1 on one port).</summary>
    public IPEndPoint PushEndpoint { get; init; } = new(IPAddress.Loopback, 15010);

    /// <summary>How often Knative objects are reconciled and revisions autoscaled (Knative ticks every 2 s).</summary>
    public TimeSpan ServingTick { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The loopback range Gateway API Gateways get their addresses from (see <see cref="GatewayApi.GatewayAddressPool"/>).</summary>
    public GatewayApi.GatewayAddressPool GatewayAddresses { get; init; } = GatewayApi.GatewayAddressPool.Parse(GatewayApi.GatewayAddressPool.Default).Pool!;
}
