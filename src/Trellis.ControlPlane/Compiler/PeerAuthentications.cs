using System.Globalization;
using Trellis.Api;
using Trellis.Api.Identity;
using Trellis.Api.Registry;
using Trellis.Api.Security;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// PeerAuthentications → what a workload's inbound listener accepts, as Istio composes them (pilot's
/// <c>ComposePeerAuthentication</c>): of the policies that apply, the oldest mesh-wide one (root namespace, no selector),
/// the oldest namespace-wide one (no selector) and the oldest workload one (a selector, outside the root namespace) are
/// applied in that order, each mode overriding its parent unless it is UNSET (absent or <c>UNSET</c>: inherit);
/// <c>portLevelMtls</c> of the workload policy then overrides for its port (UNSET: the workload's mode). Nothing set at
/// all is PERMISSIVE, Istio's default. A workload policy in the root namespace is ignored, as in Istio.
/// </summary>
internal static class PeerAuthentications
{
    /// <summary>The mode of the workload with <paramref name="labels"/> in <paramref name="ns"/> for its <paramref name="port"/>.</summary>
    public static PeerAuthenticationMode ModeFor(IReadOnlyList<Scoped<PeerAuthenticationSpec>> policies, string ns, IReadOnlyDictionary<string, string> labels, int port)
    {
        Scoped<PeerAuthenticationSpec>? mesh = null, space = null, workload = null;
        foreach (var policy in policies)
        {
            // Oldest first (MeshIndex's order), so the first one seen at a scope is the one Istio keeps.
            var selector = policy.Spec.Selector?.MatchLabels;
            if (selector is null || selector.Count == 0)
            {
                if (policy.Namespace == Authorization.RootNamespace)
                {
                    mesh ??= policy;
                }
                else if (policy.Namespace == ns)
                {
                    space ??= policy;
                }
            }
            else if (policy.Namespace == ns && policy.Namespace != Authorization.RootNamespace && Labels.Selects(selector, labels))
            {
                workload ??= policy;
            }
        }

        var mode = PeerAuthenticationMode.Permissive;
        mode = Override(mode, mesh?.Spec.Mtls);
        mode = Override(mode, space?.Spec.Mtls);
        if (workload is null)
        {
            return mode;
        }

        mode = Override(mode, workload.Spec.Mtls);
        return workload.Spec.PortLevelMtls.TryGetValue(port.ToString(CultureInfo.InvariantCulture), out var atPort) ? Override(mode, atPort) : mode;
    }

    /// <summary>A mode that is set replaces its parent's; UNSET (or none) inherits it.</summary>
    public static PeerAuthenticationMode Override(PeerAuthenticationMode parent, MutualTls? mtls) => mtls?.Mode switch
    {
        MutualTlsMode.Strict => PeerAuthenticationMode.Strict,
        MutualTlsMode.Permissive => PeerAuthenticationMode.Permissive,
        MutualTlsMode.Disable => PeerAuthenticationMode.Disable,
        _ => parent,
    };

    /// <summary>An instance's mode at its application port (the port <c>portLevelMtls</c> names, the container's).</summary>
    public static PeerAuthenticationMode ModeFor(MeshIndex index, WorkloadInstance instance) =>
        ModeFor(index.PeerAuthentications, instance.Namespace, instance.Labels, instance.Ports.GetValueOrDefault(WorkloadInstance.AppPort));

    /// <summary>
    /// The SPIFFE ID an instance's proxy presents: its Deployment's service account in its namespace; null for an
    /// instance whose Deployment is unknown (it then has no certificate, and its listeners speak cleartext).
    /// </summary>
    public static string? IdentityOf(MeshIndex index, WorkloadInstance instance) =>
        index.ServiceAccounts.TryGetValue((instance.Namespace, instance.Workload), out var account)
            && SpiffeId.TryParse($"{SpiffeId.Scheme}{index.TrustDomain}/ns/{instance.Namespace}/sa/{account}", out var id)
            ? id.ToString()
            : null;

    /// <summary>
    /// Whether an instance's inbound listener is reached over mTLS (auto mTLS): its proxy has an identity and does not
    /// DISABLE mTLS on the port (an HTTP listener and a TCP relay alike terminate it). The one rule for the proxies'
    /// clusters and for the control plane's own deliveries.
    /// </summary>
    public static bool ReachedOverMtls(MeshIndex index, WorkloadInstance instance) =>
        instance.Ports.ContainsKey(WorkloadInstance.InboundPort) && IdentityOf(index, instance) is not null
            && ModeFor(index, instance) != PeerAuthenticationMode.Disable;

    /// <summary>
    /// The SPIFFE ID the control plane speaks as when it calls a workload itself (a Broker delivering to a Kubernetes
    /// Service): Knative's broker filter account (<c>knative-eventing/mt-broker-filter</c>), so policies written for
    /// Knative on Istio match ours.
    /// </summary>
    public static string BrokerIdentity(string trustDomain) =>
        SpiffeId.ForWorkload(trustDomain, "knative-eventing", "mt-broker-filter").ToString();

    /// <summary>
    /// The SPIFFE ID a gateway proxy speaks as upstream: Istio's default ingress gateway account
    /// (<c>istio-system/istio-ingressgateway-service-account</c>), so policies written for Istio's gateway match ours.
    /// </summary>
    public static string GatewayIdentity(MeshIndex index) =>
        SpiffeId.ForWorkload(index.TrustDomain, Authorization.RootNamespace, GatewayServiceAccount).ToString();

    /// <summary>The service account of Istio's ingress gateway.</summary>
    public const string GatewayServiceAccount = "istio-ingressgateway-service-account";
}
