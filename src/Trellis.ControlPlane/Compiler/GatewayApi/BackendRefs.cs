using Trellis.Api;

namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>A backendRef resolved to a Service port, or the spec's reason why it cannot be.</summary>
internal sealed record ResolvedBackend(string Namespace, string Name, int Port, string? Reason = null, string? Message = null)
{
    public bool Valid => Reason is null;

    public string Fqdn => HostNames.Qualify(Name, Namespace);
}

/// <summary>
/// Backend references as the Gateway API resolves them: a core Service (the default kind) in the route's namespace,
/// or in another namespace when a ReferenceGrant there allows it. The reasons are those of the route's
/// <c>ResolvedRefs</c> condition.
/// </summary>
internal static class BackendRefs
{
    public const string ResolvedRefs = "ResolvedRefs";
    public const string InvalidKind = "InvalidKind";
    public const string BackendNotFound = "BackendNotFound";
    public const string RefNotPermitted = "RefNotPermitted";

    public static ResolvedBackend Resolve(RouteIdentity route, string? group, string? kind, string name, string? ns, int? port, GatewayApiIndex index)
    {
        var target = ns ?? route.Namespace;
        var backend = new ResolvedBackend(target, name, port ?? 0);
        if (!string.IsNullOrEmpty(group) || (kind ?? "Service") != "Service")
        {
            return backend with { Reason = InvalidKind, Message = $"backendRef {group}/{kind} {name}: only core Services are supported" };
        }

        if (target != route.Namespace && !index.IsGranted(ResourceKinds.GatewayApi, route.Kind, route.Namespace, "", "Service", target, name))
        {
            return backend with { Reason = RefNotPermitted, Message = $"backendRef to Service {target}/{name} is not permitted by any ReferenceGrant" };
        }

        if (!index.Services.TryGetValue((target, name), out var service))
        {
            return backend with { Reason = BackendNotFound, Message = $"Service {target}/{name} not found" };
        }

        if (port is null || !service.Ports.Any(p => p.Port == port))
        {
            return backend with { Reason = BackendNotFound, Message = $"Service {target}/{name} has no port {port}" };
        }

        return backend;
    }
}
