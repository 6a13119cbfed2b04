using Trellis.Api;
using Trellis.Api.Networking;
using Trellis.Api.Registry;
using Trellis.Api.Workloads;

namespace Trellis.ControlPlane.Compiler;

/// <summary>A service the mesh routes to: a Kubernetes Service with its selected instances.</summary>
internal sealed record MeshService(string Name, string Namespace, string Fqdn, IReadOnlyList<int> Ports, IReadOnlyList<WorkloadInstance> Instances)
{
    /// <summary>Each port's protocol by Istio's protocol selection (<see cref="PortProtocols.OfServicePort"/>).</summary>
    public IReadOnlyDictionary<int, PortProtocol> Protocols { get; init; } = new Dictionary<int, PortProtocol>();

    public PortProtocol ProtocolOf(int port) => Protocols.GetValueOrDefault(port, PortProtocol.Http);
}

/// <summary>A resource's spec together with the namespace it was written in, which qualifies its short host names.</summary>
internal sealed record Scoped<T>(string Name, string Namespace, T Spec);

/// <summary>
/// Lookups over one <see cref="MeshState"/>, built once per compile: services by FQDN, destination
/// rules by host, virtual services and gateways in a stable (namespace, name) order.
/// </summary>
internal sealed class MeshIndex
{
    private const string IstioNetworking = "networking.istio.io";

    public MeshIndex(MeshState state)
    {
        var services = new Dictionary<string, MeshService>(StringComparer.OrdinalIgnoreCase);
        foreach (var stored in state.Store.List("", "Service"))
        {
            var r = stored.Resource;
            var spec = r.Spec as ServiceSpec;
            var ns = r.Key.Namespace;
            var fqdn = HostNames.Qualify(r.Metadata.Name, ns);
            var ports = spec?.Ports.Select(p => p.Port).ToList() ?? [];
            var instances = spec is null || spec.Selector.Count == 0
                ? []
                : state.Instances.Where(i => i.Namespace == ns && Labels.Selects(spec.Selector, i.Labels)).ToList();
            services[fqdn] = new MeshService(r.Metadata.Name, ns, fqdn, ports, instances)
            {
                Protocols = (spec?.Ports ?? []).GroupBy(p => p.Port)
                    .ToDictionary(g => g.Key, g => PortProtocols.OfServicePort(g.First().Name, g.First().AppProtocol, g.First().Protocol)),
            };
        }

        Services = services;
        DestinationRules = Scope<DestinationRuleSpec>(state, "DestinationRule")
            .GroupBy(d => HostNames.Qualify(d.Spec.Host, d.Namespace), StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => MergeRules(g.ToList()), StringComparer.OrdinalIgnoreCase);
        VirtualServices = Scope<VirtualServiceSpec>(state, "VirtualService");
        LocalRateLimits = Scope<Trellis.Api.Policy.LocalRateLimitSpec>(state, "LocalRateLimit", ResourceKinds.TrellisNetworking);
        Gateways = Scope<GatewaySpec>(state, "Gateway");
        AuthorizationPolicies = Scope<Trellis.Api.Security.AuthorizationPolicySpec>(state, "AuthorizationPolicy", ResourceKinds.IstioSecurity);
        PeerAuthentications = Scope<Trellis.Api.Security.PeerAuthenticationSpec>(state, "PeerAuthentication", ResourceKinds.IstioSecurity);
        TrustDomain = state.TrustDomain;
        // The account each Deployment's instances run as (Kubernetes' "default" when none is named), as the agent asks the CA for it.
        ServiceAccounts = state.Store.List(ResourceKinds.Apps, "Deployment")
            .Where(o => o.Resource.Spec is DeploymentSpec)
            .ToDictionary(o => (o.Resource.Key.Namespace, o.Resource.Metadata.Name), o => ((DeploymentSpec)o.Resource.Spec!).Template.Spec.ServiceAccountName ?? "default");
        Instances = state.Instances;
        Revisions = state.Store.List("serving.knative.dev", "Revision")
            .Where(o => o.Resource.Spec is Trellis.Api.Serving.RevisionSpec)
            .ToDictionary(o => (o.Resource.Key.Namespace, o.Resource.Metadata.Name), o => (Trellis.Api.Serving.RevisionSpec)o.Resource.Spec!);
        ActivatorInPath = state.Store.List("serving.knative.dev", "Revision")
            .Where(o => o.Resource.Status?["activatorInPath"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<bool>(out var inPath) && inPath)
            .Select(o => (o.Resource.Key.Namespace, o.Resource.Metadata.Name))
            .ToHashSet();
        KnativeRoutes = state.Store.List("serving.knative.dev", "Route").Select(o => (o.Resource.Metadata.Name, o.Resource.Key.Namespace, o.Resource.Status)).ToList();
        GatewayApi = new GatewayApi.GatewayApiIndex(state);
        EntryHosts = ServiceEntries.Hosts(Scope<ServiceEntrySpec>(state, "ServiceEntry"), services);
        Sidecars = Scope<SidecarSpec>(state, "Sidecar");
        RequestAuthentications = Scope<Trellis.Api.Security.RequestAuthenticationSpec>(state, "RequestAuthentication", ResourceKinds.IstioSecurity);
        MeshConfig = ReadMeshConfig(state);
        Telemetries = Scope<Trellis.Api.Observability.TelemetrySpec>(state, "Telemetry", ResourceKinds.IstioTelemetry);
        Secrets = state.Store.List("", "Secret")
            .Where(o => o.Resource.Spec is SecretData)
            .ToDictionary(o => (o.Resource.Key.Namespace, o.Resource.Metadata.Name), o => (SecretData)o.Resource.Spec!);
    }

    public IReadOnlyDictionary<(string Namespace, string Name), SecretData> Secrets { get; }

    /// <summary>PeerAuthentications, oldest first (Istio picks the oldest of several at one scope).</summary>
    public IReadOnlyList<Scoped<Trellis.Api.Security.PeerAuthenticationSpec>> PeerAuthentications { get; }

    /// <summary>The service account of each Deployment, by (namespace, name).</summary>
    public IReadOnlyDictionary<(string Namespace, string Name), string> ServiceAccounts { get; }

    public string TrustDomain { get; }

    /// <summary>The hosts ServiceEntries add to the registry, by host as written (lowercased), oldest entry first.</summary>
    public IReadOnlyDictionary<string, EntryHost> EntryHosts { get; }

    /// <summary>Sidecar resources, oldest first.</summary>
    /// <summary>RequestAuthentication resources, oldest first.</summary>
    public IReadOnlyList<Scoped<Trellis.Api.Security.RequestAuthenticationSpec>> RequestAuthentications { get; }

    public IReadOnlyList<Scoped<SidecarSpec>> Sidecars { get; }

    /// <summary>Istio Telemetry resources, oldest first.</summary>
    public IReadOnlyList<Scoped<Trellis.Api.Observability.TelemetrySpec>> Telemetries { get; }

    /// <summary>The mesh configuration (Istio's <c>istio</c> ConfigMap in <c>istio-system</c>); its defaults when there is none.</summary>
    public MeshConfig MeshConfig { get; }

    /// <summary>
    /// The registry name a route's host means: the Service its qualified form names, else a ServiceEntry host as written
    /// (Istio takes ServiceEntry hosts literally, so <c>example.com</c> is not read as a service in namespace <c>com</c>),
    /// else the qualified form.
    /// </summary>
    public string Resolve(string host, string ns)
    {
        var qualified = HostNames.Qualify(host, ns);
        if (Services.ContainsKey(qualified))
        {
            return qualified;
        }

        var written = host.Trim().TrimEnd('.').ToLowerInvariant();
        return EntryHosts.ContainsKey(written) ? written : qualified;
    }

    /// <summary>The DestinationRule for a registry host; a ServiceEntry host may be written short in the rule's namespace.</summary>
    public Scoped<DestinationRuleSpec>? RuleFor(string host, string? entryNamespace = null) =>
        DestinationRules.TryGetValue(host, out var rule) ? rule
        : entryNamespace is not null && DestinationRules.TryGetValue(HostNames.Qualify(host, entryNamespace), out rule) ? rule
        : null;

    /// <summary>The Gateway API objects (Gateways, routes, grants).</summary>
    public GatewayApi.GatewayApiIndex GatewayApi { get; }

    /// <summary>Knative Routes with the status the serving controller resolved.</summary>
    public IReadOnlyList<(string Name, string Namespace, System.Text.Json.Nodes.JsonObject? Status)> KnativeRoutes { get; }

    public IReadOnlyList<WorkloadInstance> Instances { get; }

    public IReadOnlyDictionary<(string Namespace, string Name), Trellis.Api.Serving.RevisionSpec> Revisions { get; }

    /// <summary>Revisions whose autoscaler keeps the activator in the path (status <c>activatorInPath</c>: too little burst capacity).</summary>
    public IReadOnlySet<(string Namespace, string Name)> ActivatorInPath { get; }

    public IReadOnlyDictionary<string, MeshService> Services { get; }

    public IReadOnlyDictionary<string, Scoped<DestinationRuleSpec>> DestinationRules { get; }

    public IReadOnlyList<Scoped<VirtualServiceSpec>> VirtualServices { get; }

    public IReadOnlyList<Scoped<GatewaySpec>> Gateways { get; }

    /// <summary>AuthorizationPolicy resources, oldest first.</summary>
    public IReadOnlyList<Scoped<Trellis.Api.Security.AuthorizationPolicySpec>> AuthorizationPolicies { get; }

    /// <summary>LocalRateLimit resources, oldest first.</summary>
    public IReadOnlyList<Scoped<Trellis.Api.Policy.LocalRateLimitSpec>> LocalRateLimits { get; }

    /// <summary>A mesh configuration that does not parse was refused at apply; one stored anyway (older data) means the defaults.</summary>
    private static MeshConfig ReadMeshConfig(MeshState state)
    {
        var stored = state.Store.List("", "ConfigMap")
            .FirstOrDefault(o => MeshConfig.IsMeshConfigMap(o.Resource.Key.Namespace, o.Resource.Metadata.Name));
        var data = (stored?.Resource.Spec as ConfigMapData)?.Data.GetValueOrDefault(MeshConfig.MeshKey);
        return MeshConfig.Parse(data).Config ?? MeshConfig.Default;
    }

    /// <summary>
    /// In Istio's order (pilot's <c>sortConfigByCreationTime</c>): oldest first, then by name, then namespace. Where
    /// several resources claim one thing, the oldest wins or comes first.
    /// </summary>
    private static List<Scoped<T>> Scope<T>(MeshState state, string kind, string group = IstioNetworking) where T : class =>
        state.Store.List(group, kind)
            .Where(o => o.Resource.Spec is T)
            .OrderBy(o => o.Resource.Metadata.CreationTimestamp ?? DateTimeOffset.MinValue)
            .ThenBy(o => o.Resource.Metadata.Name, StringComparer.Ordinal)
            .ThenBy(o => o.Resource.Key.Namespace, StringComparer.Ordinal)
            .Select(o => new Scoped<T>(o.Resource.Metadata.Name, o.Resource.Key.Namespace, (T)o.Resource.Spec!))
            .ToList();

    /// <summary>
    /// Several DestinationRules for one host merge as in Istio (pilot's <c>mergeDestinationRule</c>): the oldest rule's
    /// traffic policy applies (a younger one's only when the older ones have none), and subsets add up, the oldest
    /// definition of a name winning.
    /// </summary>
    private static Scoped<DestinationRuleSpec> MergeRules(List<Scoped<DestinationRuleSpec>> rules)
    {
        var first = rules[0];
        if (rules.Count == 1)
        {
            return first;
        }

        var subsets = new List<Subset>();
        foreach (var subset in rules.SelectMany(r => r.Spec.Subsets))
        {
            if (!subsets.Any(s => s.Name == subset.Name))
            {
                subsets.Add(subset);
            }
        }

        var policy = rules.Select(r => r.Spec.TrafficPolicy).FirstOrDefault(p => p is not null);
        return first with { Spec = first.Spec with { TrafficPolicy = policy, Subsets = subsets } };
    }
}

internal static class Labels
{
    /// <summary>True when every selector label is present with the same value (an empty selector selects all).</summary>
    public static bool Selects(IReadOnlyDictionary<string, string> selector, IReadOnlyDictionary<string, string> labels) =>
        selector.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value);
}
