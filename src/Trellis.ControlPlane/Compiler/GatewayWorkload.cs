using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// The gateway proxy as a workload of the mesh. Istio runs its ingress gateway as a pod in the root namespace
/// (<c>istio-system</c>) labelled <c>istio: ingressgateway</c>, and every policy that selects workloads selects it like
/// any other pod. So every gateway listener (Istio Gateways and Gateway API Gateways alike) speaks for the gateway proxy
/// (its name and labels, <see cref="TelemetryMetadata.Gateway"/>), takes the Telemetry, AuthorizationPolicies and
/// RequestAuthentications of a workload in the root namespace with the gateway's labels (the same functions the
/// workloads' inbound listeners use), and calls upstream as the gateway's identity
/// (<see cref="PeerAuthentications.GatewayIdentity"/>): auto mTLS uses it when the gateway holds its certificate.
/// </summary>
internal static class GatewayWorkload
{
    public static List<ListenerConfig> Apply(List<ListenerConfig> listeners, ProxyHello proxy, MeshIndex index, MeshState state)
    {
        const string ns = Authorization.RootNamespace;
        var gateway = TelemetryMetadata.Gateway(proxy);
        var telemetry = TelemetryPolicies.For(index, ns, proxy.Labels, ListenerKind.Gateway);
        var identity = PeerAuthentications.GatewayIdentity(index);
        var authorization = Authorization.Listener(index, proxy.Labels, ns);
        var authentication = RequestAuthentications.Listener(index, state, proxy.Labels, ns);
        return listeners
            .Select(l => l.Kind != ListenerKind.Gateway ? l : l with
            {
                Peer = l.Peer ?? gateway,
                Telemetry = l.Telemetry ?? telemetry,
                Identity = l.Identity ?? identity,
                Authorization = l.Authorization ?? authorization,
                Authentication = l.Authentication ?? authentication,
            })
            .ToList();
    }
}
