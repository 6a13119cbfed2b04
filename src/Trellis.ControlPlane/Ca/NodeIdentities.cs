using Trellis.Api.Identity;
using Trellis.Api.Registry;
using Trellis.Api.Workloads;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Ca;

/// <summary>
/// Which workload identities a joined node may hold, so a node (or whoever stole its key) cannot mint another
/// workload's identity: an agent those of the Deployments placed on it (the service accounts it asks for, by the same
/// placement the agent runs them from), a gateway node (<see cref="CaProtocol.GatewayNodePrefix"/>) Istio's ingress
/// gateway account only.
/// </summary>
public static class NodeIdentities
{
    /// <summary>Null when <paramref name="node"/> may hold <paramref name="namespace"/>/<paramref name="serviceAccount"/>, otherwise why not.</summary>
    public static string? Refusal(StoreSnapshot snapshot, string node, string @namespace, string serviceAccount)
    {
        if (node.StartsWith(CaProtocol.GatewayNodePrefix, StringComparison.Ordinal))
        {
            return @namespace == Authorization.RootNamespace && serviceAccount == PeerAuthentications.GatewayServiceAccount
                ? null
                : $"gateway node {node} may only hold the ingress gateway's identity";
        }

        var placed = snapshot.List("apps", "Deployment").Any(d =>
            d.Resource.Key.Namespace == @namespace
            && d.Resource.Spec is DeploymentSpec spec
            && (spec.Template.Spec.ServiceAccountName ?? "default") == serviceAccount
            && Placements.ReplicasOn(d.Resource, node) > 0);
        return placed ? null : $"no Deployment of service account {@namespace}/{serviceAccount} is placed on node {node}";
    }
}
