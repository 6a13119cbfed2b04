using System.Collections.Frozen;
using Trellis.Api.Eventing;
using Trellis.Api.GatewayApi;
using Trellis.Api.Networking;
using Trellis.Api.Policy;
using Trellis.Api.Security;
using Trellis.Api.Serving;
using Trellis.Api.Workloads;

namespace Trellis.Api;

/// <summary>The kinds Trellis reads, and kubectl-style lookup of a kind by the name a user types.</summary>
public static class ResourceKinds
{
    public const string IstioNetworking = "networking.istio.io";
    public const string IstioSecurity = "security.istio.io";
    public const string IstioTelemetry = "telemetry.istio.io";
    public const string GatewayApi = "gateway.networking.k8s.io";
    public const string KnativeServing = "serving.knative.dev";
    public const string KnativeEventing = "eventing.knative.dev";
    public const string KnativeSources = "sources.knative.dev";
    public const string TrellisNetworking = "networking.trellis.dev";
    public const string Apps = "apps";
    public const string Discovery = "discovery.k8s.io";
    public const string Core = "";

    private static readonly string[] IstioNetworkingVersions = ["v1", "v1beta1", "v1alpha3"];
    private static readonly string[] IstioSecurityVersions = ["v1", "v1beta1"];
    private static readonly string[] V1 = ["v1"];

    // Order decides ambiguous short names, as kubectl's discovery order does: core before Knative for "service",
    // Istio before the Gateway API for "gateway" (istioctl users type "gw" and mean Istio's).
    public static IReadOnlyList<KindInfo> All { get; } =
    [
        new(Core, V1, "Service", "services", ["svc"], true, typeof(ServiceSpec)),
        new(Core, V1, "ServiceAccount", "serviceaccounts", ["sa"], true, null),
        new(Core, V1, "ConfigMap", "configmaps", ["cm"], true, typeof(ConfigMapData)) { SpecAtTopLevel = true },
        new(Core, V1, "Secret", "secrets", [], true, typeof(SecretData)) { SpecAtTopLevel = true },
        new(Core, V1, "Namespace", "namespaces", ["ns"], false, typeof(NamespaceSpec)),
        new(Core, V1, "Pod", "pods", ["po"], true, typeof(PodSpec)),
        new(Apps, V1, "Deployment", "deployments", ["deploy"], true, typeof(DeploymentSpec)),
        new(Discovery, V1, "EndpointSlice", "endpointslices", [], true, typeof(EndpointSliceData)) { SpecAtTopLevel = true },
        new(IstioNetworking, IstioNetworkingVersions, "VirtualService", "virtualservices", ["vs"], true, typeof(VirtualServiceSpec)),
        new(IstioNetworking, IstioNetworkingVersions, "DestinationRule", "destinationrules", ["dr"], true, typeof(DestinationRuleSpec)),
        new(IstioNetworking, IstioNetworkingVersions, "ServiceEntry", "serviceentries", ["se"], true, typeof(ServiceEntrySpec)),
        new(IstioNetworking, IstioNetworkingVersions, "Gateway", "gateways", ["gw"], true, typeof(GatewaySpec)),
        new(IstioNetworking, IstioNetworkingVersions, "Sidecar", "sidecars", [], true, typeof(SidecarSpec)),
        new(IstioSecurity, IstioSecurityVersions, "PeerAuthentication", "peerauthentications", ["pa"], true, typeof(PeerAuthenticationSpec)),
        new(IstioSecurity, IstioSecurityVersions, "AuthorizationPolicy", "authorizationpolicies", ["ap"], true, typeof(AuthorizationPolicySpec)),
        new(IstioSecurity, IstioSecurityVersions, "RequestAuthentication", "requestauthentications", ["ra"], true, typeof(RequestAuthenticationSpec)),
        new(IstioTelemetry, ["v1", "v1alpha1"], "Telemetry", "telemetries", ["telemetry"], true, typeof(Observability.TelemetrySpec)),
        new(GatewayApi, V1, "GatewayClass", "gatewayclasses", ["gc"], false, typeof(GatewayClassSpec)),
        new(GatewayApi, V1, "Gateway", "gateways", ["gtw"], true, typeof(GatewayApiGatewaySpec)),
        new(GatewayApi, V1, "HTTPRoute", "httproutes", [], true, typeof(HttpRouteSpec)),
        new(GatewayApi, V1, "GRPCRoute", "grpcroutes", [], true, typeof(GrpcRouteSpec)),
        new(GatewayApi, ["v1alpha2"], "TCPRoute", "tcproutes", [], true, typeof(TcpRouteSpec)),
        new(GatewayApi, ["v1alpha2"], "TLSRoute", "tlsroutes", [], true, typeof(TlsRouteSpec)),
        new(GatewayApi, ["v1", "v1beta1"], "ReferenceGrant", "referencegrants", ["refgrant"], true, typeof(ReferenceGrantSpec)),
        new(KnativeServing, V1, "Service", "services", ["ksvc", "kservice"], true, typeof(KnativeServiceSpec)),
        new(KnativeServing, V1, "Configuration", "configurations", ["config", "cfg"], true, typeof(ConfigurationSpec)),
        new(KnativeServing, V1, "Revision", "revisions", ["rev"], true, typeof(RevisionSpec)),
        new(KnativeServing, V1, "Route", "routes", ["rt"], true, typeof(RouteSpec)),
        new(KnativeEventing, V1, "Broker", "brokers", [], true, typeof(BrokerSpec)),
        new(KnativeEventing, V1, "Trigger", "triggers", [], true, typeof(TriggerSpec)),
        new(KnativeSources, V1, "PingSource", "pingsources", [], true, typeof(PingSourceSpec)),
        new(KnativeSources, V1, "SinkBinding", "sinkbindings", [], true, typeof(SinkBindingSpec)),
        new(TrellisNetworking, ["v1alpha1"], "LocalRateLimit", "localratelimits", ["lrl"], true, typeof(LocalRateLimitSpec)),
    ];

    // First match wins, so the table order above resolves ambiguous names.
    private static readonly FrozenDictionary<string, KindInfo> ByName = BuildNameIndex();

    /// <summary>The kind whose served versions include <paramref name="apiVersion"/> exactly (<c>networking.istio.io/v1</c>, <c>v1</c>).</summary>
    public static KindInfo? Find(string apiVersion, string kind)
    {
        foreach (var info in All)
        {
            if (info.Kind == kind && info.Serves(apiVersion))
            {
                return info;
            }
        }

        return null;
    }

    /// <summary>The kind of <paramref name="group"/> (empty for core), whatever the version.</summary>
    public static KindInfo? FindByGroup(string group, string kind) =>
        All.FirstOrDefault(i => i.Group == group && i.Kind == kind);

    /// <summary>
    /// The kind a user means by <paramref name="name"/>, as kubectl resolves it: plural, singular, short name, or any of
    /// those followed by <c>.group</c> (<c>gateways.gateway.networking.k8s.io</c>). Case-insensitive.
    /// </summary>
    public static KindInfo? Resolve(string name)
    {
        var key = name.Trim().ToLowerInvariant();
        if (ByName.TryGetValue(key, out var info))
        {
            return info;
        }

        var dot = key.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0)
        {
            return null;
        }

        var resource = key[..dot];
        var group = key[(dot + 1)..];
        return All.FirstOrDefault(i => i.Group == group && NamesOf(i).Contains(resource));
    }

    private static IEnumerable<string> NamesOf(KindInfo info) =>
        new[] { info.Plural, info.Singular }.Concat(info.ShortNames);

    private static FrozenDictionary<string, KindInfo> BuildNameIndex()
    {
        var index = new Dictionary<string, KindInfo>(StringComparer.Ordinal);
        foreach (var info in All)
        {
            foreach (var n in NamesOf(info))
            {
                index.TryAdd(n, info);
            }
        }

        return index.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
