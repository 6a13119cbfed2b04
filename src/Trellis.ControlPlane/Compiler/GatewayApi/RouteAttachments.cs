using Trellis.Api;
using Trellis.Api.GatewayApi;

namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>A route attached to one listener, for the hostnames where the two intersect.</summary>
internal sealed record ListenerAttachment(GatewayEntry Gateway, Listener Listener, IReadOnlyList<string> Hostnames);

/// <summary>
/// What became of one <c>parentRef</c> of a route: attached to some listeners of a Trellis Gateway, attached to a
/// Service (GAMMA: calls to that Service from inside the mesh), or refused with one of the spec's reasons. Parents
/// that are not Trellis's (another controller's Gateway, a kind Trellis does not serve) get no attachment at all,
/// and so no status from Trellis.
/// </summary>
internal sealed record ParentAttachment(
    ParentReference Ref,
    string Namespace,
    bool Accepted,
    string Reason,
    string Message,
    IReadOnlyList<ListenerAttachment> Listeners,
    (string Namespace, string Name)? Service = null)
{
    public bool IsMesh => Service is not null;
}

/// <summary>
/// Route attachment as the Gateway API defines it, one function used by the config compiler and by status, so what
/// a route's status says is what the proxies do.
/// </summary>
internal static class RouteAttachments
{
    public const string Accepted = "Accepted";
    public const string NotAllowedByListeners = "NotAllowedByListeners";
    public const string NoMatchingListenerHostname = "NoMatchingListenerHostname";
    public const string NoMatchingParent = "NoMatchingParent";

    /// <summary>Listener protocols Trellis serves HTTP-family routes on.</summary>
    private static readonly HashSet<string> HttpProtocols = ["HTTP", "HTTPS"];

    public static List<ParentAttachment> Resolve(RouteHead route, GatewayApiIndex index)
    {
        var result = new List<ParentAttachment>();
        foreach (var parent in route.ParentRefs)
        {
            var ns = parent.Namespace ?? route.Id.Namespace;
            if (IsService(parent))
            {
                if (index.Services.ContainsKey((ns, parent.Name)))
                {
                    result.Add(new ParentAttachment(parent, ns, true, Accepted, "Route is accepted for calls to the Service", [], (ns, parent.Name)));
                }

                continue;
            }

            if ((parent.Group ?? ResourceKinds.GatewayApi) != ResourceKinds.GatewayApi || (parent.Kind ?? "Gateway") != "Gateway"
                || index.Gateway(ns, parent.Name) is not { Ours: true } gateway)
            {
                continue; // not a parent Trellis controls
            }

            result.Add(Attach(route, parent, gateway, index));
        }

        return result;
    }

    public static bool IsService(ParentReference parent) => parent.Group == "" && parent.Kind == "Service";

    private static ParentAttachment Attach(RouteHead route, ParentReference parent, GatewayEntry gateway, GatewayApiIndex index)
    {
        var named = gateway.Spec.Listeners
            .Where(l => (parent.SectionName is null || l.Name == parent.SectionName) && (parent.Port is null || l.Port == parent.Port))
            .ToList();
        if (named.Count == 0)
        {
            return Refused(parent, gateway, NoMatchingParent, "no listener matches the parentRef's sectionName and port");
        }

        var allowed = named.Where(l => Allows(l, gateway, route.Id, index)).ToList();
        if (allowed.Count == 0)
        {
            return Refused(parent, gateway, NotAllowedByListeners, "the listeners' allowedRoutes do not admit this route");
        }

        var attached = allowed
            .Select(l => new ListenerAttachment(gateway, l, RouteHostnames.Intersect(l.Hostname, route.Hostnames)))
            .Where(a => a.Hostnames.Count > 0)
            .ToList();
        if (attached.Count == 0)
        {
            return Refused(parent, gateway, NoMatchingListenerHostname, "no listener hostname intersects the route's hostnames");
        }

        return new ParentAttachment(parent, gateway.Namespace, true, Accepted, "Route is accepted", attached);
    }

    private static ParentAttachment Refused(ParentReference parent, GatewayEntry gateway, string reason, string message) =>
        new(parent, gateway.Namespace, false, reason, message, []);

    /// <summary><c>allowedRoutes</c>: the route's namespace (Same by default) and kind (the protocol's kinds by default).</summary>
    public static bool Allows(Listener listener, GatewayEntry gateway, RouteIdentity route, GatewayApiIndex index)
    {
        if (!SupportedKinds(listener).Contains(route.Kind))
        {
            return false;
        }

        var from = listener.AllowedRoutes?.Namespaces?.From ?? "Same";
        return from switch
        {
            "All" => true,
            "Same" => route.Namespace == gateway.Namespace,
            "Selector" => listener.AllowedRoutes?.Namespaces?.Selector is { } selector && selector.Matches(index.LabelsOf(route.Namespace)),
            _ => false,
        };
    }

    /// <summary>
    /// The route kinds a listener takes: those of its <c>allowedRoutes.kinds</c> that Trellis serves on its protocol,
    /// or, when none are written, every kind Trellis serves on it.
    /// </summary>
    public static IReadOnlyList<string> SupportedKinds(Listener listener)
    {
        IReadOnlyList<string> served = HttpProtocols.Contains(listener.Protocol) ? ["HTTPRoute", "GRPCRoute"]
            : listener.Protocol == "TCP" ? ["TCPRoute"]
            : IsPassthrough(listener) ? ["TLSRoute"]
            : [];
        var written = listener.AllowedRoutes?.Kinds ?? [];
        return written.Count == 0
            ? served
            : written.Where(k => (k.Group ?? ResourceKinds.GatewayApi) == ResourceKinds.GatewayApi && served.Contains(k.Kind)).Select(k => k.Kind).Distinct().ToList();
    }

    /// <summary>A <c>TLS</c> listener that passes connections through by server name (<c>tls.mode: Passthrough</c>), the one TLS listener Trellis serves.</summary>
    public static bool IsPassthrough(Listener listener) => listener.Protocol == "TLS" && listener.Tls?.Mode == "Passthrough";

    /// <summary>Whether some kinds written in <c>allowedRoutes.kinds</c> are not served on the listener (status InvalidRouteKinds).</summary>
    public static bool HasInvalidKinds(Listener listener)
    {
        var supported = SupportedKinds(listener);
        return (listener.AllowedRoutes?.Kinds ?? []).Any(k => (k.Group ?? ResourceKinds.GatewayApi) != ResourceKinds.GatewayApi || !supported.Contains(k.Kind));
    }
}
