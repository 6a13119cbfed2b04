using System.Net;
using System.Text.Json.Nodes;
using Trellis.Api;
using Trellis.Api.GatewayApi;
using Trellis.Api.Workloads;

namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>Who a route is: kind, name and the bookkeeping the spec's precedence and status need.</summary>
internal sealed record RouteIdentity(string Kind, string Namespace, string Name, long Generation, DateTimeOffset Created);

/// <summary>A route of any kind as attachment sees it: where it wants to attach and for which hostnames.</summary>
internal sealed record RouteHead(RouteIdentity Id, IReadOnlyList<ParentReference> ParentRefs, IReadOnlyList<string> Hostnames);

internal sealed record HttpRouteEntry(RouteHead Head, HttpRouteSpec Spec);

internal sealed record GrpcRouteEntry(RouteHead Head, GrpcRouteSpec Spec);

internal sealed record TcpRouteEntry(RouteHead Head, TcpRouteSpec Spec);

internal sealed record TlsRouteEntry(RouteHead Head, TlsRouteSpec Spec);

/// <summary>
/// A Gateway API Gateway. <see cref="Ours"/>: its GatewayClass names Trellis's controller. <see cref="Address"/>: the
/// loopback address it is served on (a static <c>spec.addresses</c> IPAddress, else the one the controller assigned
/// in <c>status.addresses</c>); null until it has one.
/// </summary>
internal sealed record GatewayEntry(string Namespace, string Name, long Generation, GatewayApiGatewaySpec Spec, bool Ours, string? Address);

/// <summary>
/// The Gateway API objects of one <see cref="MeshState"/>, built once per compile (and per status pass): Trellis's
/// Gateways, the routes, ReferenceGrants and the namespaces' labels for <c>allowedRoutes</c> selectors.
/// </summary>
internal sealed class GatewayApiIndex
{
    private const string Group = ResourceKinds.GatewayApi;

    public GatewayApiIndex(MeshState state)
    {
        Classes = state.Store.List(Group, "GatewayClass")
            .Where(o => o.Resource.Spec is GatewayClassSpec)
            .ToDictionary(o => o.Resource.Metadata.Name, o => (GatewayClassSpec)o.Resource.Spec!, StringComparer.Ordinal);
        Gateways = state.Store.List(Group, "Gateway")
            .Where(o => o.Resource.Spec is GatewayApiGatewaySpec)
            .Select(o =>
            {
                var r = o.Resource;
                var spec = (GatewayApiGatewaySpec)r.Spec!;
                var ours = Classes.TryGetValue(spec.GatewayClassName, out var c) && c.ControllerName == GatewayClassSpec.TrellisController;
                return new GatewayEntry(r.Key.Namespace, r.Metadata.Name, r.Metadata.Generation ?? 1, spec, ours, AddressOf(spec, r.Status));
            })
            .ToList();
        HttpRoutes = state.Store.List(Group, "HTTPRoute")
            .Where(o => o.Resource.Spec is HttpRouteSpec)
            .Select(o => (Resource: o.Resource, Spec: (HttpRouteSpec)o.Resource.Spec!))
            .Select(x => new HttpRouteEntry(new RouteHead(Identity(x.Resource), x.Spec.ParentRefs, x.Spec.Hostnames), x.Spec))
            .ToList();
        GrpcRoutes = state.Store.List(Group, "GRPCRoute")
            .Where(o => o.Resource.Spec is GrpcRouteSpec)
            .Select(o => (Resource: o.Resource, Spec: (GrpcRouteSpec)o.Resource.Spec!))
            .Select(x => new GrpcRouteEntry(new RouteHead(Identity(x.Resource), x.Spec.ParentRefs, x.Spec.Hostnames), x.Spec))
            .ToList();
        TcpRoutes = state.Store.List(Group, "TCPRoute")
            .Where(o => o.Resource.Spec is TcpRouteSpec)
            .Select(o => new TcpRouteEntry(new RouteHead(Identity(o.Resource), ((TcpRouteSpec)o.Resource.Spec!).ParentRefs, []), (TcpRouteSpec)o.Resource.Spec!))
            .ToList();
        TlsRoutes = state.Store.List(Group, "TLSRoute")
            .Where(o => o.Resource.Spec is TlsRouteSpec)
            .Select(o => (Resource: o.Resource, Spec: (TlsRouteSpec)o.Resource.Spec!))
            .Select(x => new TlsRouteEntry(new RouteHead(Identity(x.Resource), x.Spec.ParentRefs, x.Spec.Hostnames), x.Spec))
            .ToList();
        Grants = state.Store.List(Group, "ReferenceGrant")
            .Where(o => o.Resource.Spec is ReferenceGrantSpec)
            .Select(o => (o.Resource.Key.Namespace, (ReferenceGrantSpec)o.Resource.Spec!))
            .ToList();
        NamespaceLabels = state.Store.List("", "Namespace")
            .ToDictionary(o => o.Resource.Metadata.Name, o => Labels(o.Resource), StringComparer.Ordinal);
        Services = state.Store.List("", "Service")
            .Where(o => o.Resource.Spec is ServiceSpec)
            .ToDictionary(o => (o.Resource.Key.Namespace, o.Resource.Metadata.Name), o => (ServiceSpec)o.Resource.Spec!);
        Secrets = state.Store.List("", "Secret")
            .Where(o => o.Resource.Spec is SecretData)
            .ToDictionary(o => (o.Resource.Key.Namespace, o.Resource.Metadata.Name), o => (SecretData)o.Resource.Spec!);
    }

    public IReadOnlyDictionary<string, GatewayClassSpec> Classes { get; }

    public IReadOnlyList<GatewayEntry> Gateways { get; }

    public IReadOnlyList<HttpRouteEntry> HttpRoutes { get; }

    public IReadOnlyList<GrpcRouteEntry> GrpcRoutes { get; }

    public IReadOnlyList<TcpRouteEntry> TcpRoutes { get; }

    public IReadOnlyList<TlsRouteEntry> TlsRoutes { get; }

    /// <summary>Every route head, of every kind, for attachment counts and status.</summary>
    public IEnumerable<RouteHead> Routes => HttpRoutes.Select(r => r.Head).Concat(GrpcRoutes.Select(r => r.Head)).Concat(TcpRoutes.Select(r => r.Head)).Concat(TlsRoutes.Select(r => r.Head));

    public IReadOnlyList<(string Namespace, ReferenceGrantSpec Spec)> Grants { get; }

    public IReadOnlyDictionary<(string Namespace, string Name), ServiceSpec> Services { get; }

    public IReadOnlyDictionary<(string Namespace, string Name), SecretData> Secrets { get; }

    private IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> NamespaceLabels { get; }

    public GatewayEntry? Gateway(string ns, string name) => Gateways.FirstOrDefault(g => g.Namespace == ns && g.Name == name);

    /// <summary>
    /// A namespace's labels, with the <c>kubernetes.io/metadata.name</c> label Kubernetes adds to every namespace; a
    /// namespace that has no Namespace object (Trellis creates none implicitly) has that label only.
    /// </summary>
    public IReadOnlyDictionary<string, string> LabelsOf(string ns) =>
        NamespaceLabels.TryGetValue(ns, out var labels) ? labels : new Dictionary<string, string> { [MetadataName] = ns };

    /// <summary>
    /// Whether a ReferenceGrant in <paramref name="toNamespace"/> lets a <paramref name="fromKind"/> in
    /// <paramref name="fromNamespace"/> refer to <paramref name="toKind"/> <paramref name="toName"/> there.
    /// </summary>
    public bool IsGranted(string fromGroup, string fromKind, string fromNamespace, string toGroup, string toKind, string toNamespace, string toName) =>
        Grants.Any(g => g.Namespace == toNamespace
            && g.Spec.From.Any(f => f.Group == fromGroup && f.Kind == fromKind && f.Namespace == fromNamespace)
            && g.Spec.To.Any(t => t.Group == toGroup && t.Kind == toKind && (string.IsNullOrEmpty(t.Name) || t.Name == toName)));

    private const string MetadataName = "kubernetes.io/metadata.name";

    private static IReadOnlyDictionary<string, string> Labels(Resource ns)
    {
        var labels = new Dictionary<string, string>(ns.Metadata.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            [MetadataName] = ns.Metadata.Name,
        };
        return labels;
    }

    /// <summary>Trellis binds Gateways on this machine's loopback range, the one kind of address it can hand out.</summary>
    public static bool IsServable(GatewayAddress address) =>
        (address.Type ?? "IPAddress") == "IPAddress" && IPAddress.TryParse(address.Value, out var ip) && IPAddress.IsLoopback(ip);

    private static RouteIdentity Identity(Resource r) =>
        new(r.Kind, r.Key.Namespace, r.Metadata.Name, r.Metadata.Generation ?? 1, r.Metadata.CreationTimestamp ?? DateTimeOffset.MinValue);

    /// <summary>A requested static IPAddress first (the spec's <c>spec.addresses</c>), else the assigned one in status.</summary>
    private static string? AddressOf(GatewayApiGatewaySpec spec, JsonObject? status)
    {
        if (spec.Addresses.Count > 0)
        {
            // Only a loopback IPAddress can be served here; any other request leaves the Gateway unaddressed
            // (status: UnsupportedAddress).
            return spec.Addresses.FirstOrDefault(a => IsServable(a))?.Value;
        }

        return status?["addresses"] is JsonArray addresses && addresses.FirstOrDefault() is JsonObject first
            && (string?)first["value"] is { } value && IPAddress.TryParse(value, out _) ? value : null;
    }
}
