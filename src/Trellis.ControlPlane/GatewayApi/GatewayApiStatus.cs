using System.Text.Json.Nodes;
using Trellis.Api;
using Trellis.Api.GatewayApi;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.Compiler.GatewayApi;

namespace Trellis.ControlPlane.GatewayApi;

/// <summary>
/// The status Trellis writes on Gateway API objects, as the spec and its conformance suite read it: GatewayClass
/// <c>Accepted</c>; Gateway <c>Accepted</c>, <c>Programmed</c>, addresses and per-listener conditions with
/// <c>attachedRoutes</c>; route <c>status.parents</c> with <c>Accepted</c> and <c>ResolvedRefs</c>. A pure function
/// of the mesh state (and the previous status, for transition times); it uses the same attachment and backend rules
/// as the config compiler.
/// </summary>
internal static class GatewayApiStatus
{
    private const string Group = ResourceKinds.GatewayApi;

    public static Dictionary<ResourceKey, JsonObject> Compute(MeshState state, DateTimeOffset now)
    {
        var index = new GatewayApiIndex(state);
        var result = new Dictionary<ResourceKey, JsonObject>();
        foreach (var stored in state.Store.List(Group, "GatewayClass"))
        {
            var r = stored.Resource;
            if (r.Spec is GatewayClassSpec { ControllerName: GatewayClassSpec.TrellisController })
            {
                result[r.Key] = new JsonObject
                {
                    ["conditions"] = GatewayCondition.Array([new("Accepted", true, "Accepted", "Handled by Trellis")], r.Metadata.Generation ?? 1, Previous(r.Status), now),
                };
            }
        }

        var attachments = index.Routes.Select(h => (Head: h, Parents: RouteAttachments.Resolve(h, index))).ToList();
        foreach (var gateway in index.Gateways.Where(g => g.Ours))
        {
            var key = new ResourceKey(Group, "Gateway", gateway.Namespace, gateway.Name);
            result[key] = GatewayStatus(gateway, index, attachments, state.Store.Get(key)?.Resource.Status, now);
        }

        foreach (var route in index.HttpRoutes)
        {
            var backends = route.Spec.Rules.SelectMany(r => r.BackendRefs.Select(b => (b.Group, b.Kind, b.Name, b.Namespace, b.Port))
                .Concat(r.Filters.Where(f => f.RequestMirror is not null).Select(f => f.RequestMirror!.BackendRef).Select(b => (b.Group, b.Kind, b.Name, b.Namespace, b.Port))));
            AddRouteStatus(result, state, route.Head, attachments, backends, index, now);
        }

        foreach (var route in index.GrpcRoutes)
        {
            var backends = route.Spec.Rules.SelectMany(r => r.BackendRefs.Select(b => (b.Group, b.Kind, b.Name, b.Namespace, b.Port)));
            AddRouteStatus(result, state, route.Head, attachments, backends, index, now);
        }

        foreach (var route in index.TcpRoutes)
        {
            var backends = route.Spec.Rules.SelectMany(r => r.BackendRefs.Select(b => (b.Group, b.Kind, b.Name, b.Namespace, b.Port)));
            AddRouteStatus(result, state, route.Head, attachments, backends, index, now);
        }

        foreach (var route in index.TlsRoutes)
        {
            var backends = route.Spec.Rules.SelectMany(r => r.BackendRefs.Select(b => (b.Group, b.Kind, b.Name, b.Namespace, b.Port)));
            AddRouteStatus(result, state, route.Head, attachments, backends, index, now);
        }

        return result;
    }

    private static void AddRouteStatus(
        Dictionary<ResourceKey, JsonObject> result,
        MeshState state,
        RouteHead head,
        List<(RouteHead Head, List<ParentAttachment> Parents)> attachments,
        IEnumerable<(string? Group, string? Kind, string Name, string? Namespace, int? Port)> backends,
        GatewayApiIndex index,
        DateTimeOffset now)
    {
        var parents = attachments.First(a => ReferenceEquals(a.Head, head)).Parents;
        if (parents.Count == 0)
        {
            return; // no parent of Trellis's: another controller's status, if any, is left alone
        }

        var key = new ResourceKey(Group, head.Id.Kind, head.Id.Namespace, head.Id.Name);
        var previous = state.Store.Get(key)?.Resource.Status?["parents"] as JsonArray;
        var invalid = backends
            .Select(b => BackendRefs.Resolve(head.Id, b.Group, b.Kind, b.Name, b.Namespace, b.Port, index))
            .FirstOrDefault(b => !b.Valid);
        var resolved = invalid is null
            ? new GatewayCondition("ResolvedRefs", true, BackendRefs.ResolvedRefs, "All references are resolved")
            : new GatewayCondition("ResolvedRefs", false, invalid.Reason!, invalid.Message!);
        var entries = new JsonArray();
        foreach (var parent in parents)
        {
            var reference = ParentRefJson(parent);
            var before = previous?.OfType<JsonObject>().FirstOrDefault(p => JsonNode.DeepEquals(p["parentRef"], reference))?["conditions"] as JsonArray;
            entries.Add(new JsonObject
            {
                ["parentRef"] = reference,
                ["controllerName"] = GatewayClassSpec.TrellisController,
                ["conditions"] = GatewayCondition.Array(
                    [new("Accepted", parent.Accepted, parent.Reason, parent.Message), resolved], head.Id.Generation, before, now),
            });
        }

        result[key] = new JsonObject { ["parents"] = entries };
    }

    /// <summary>The parentRef as written, with the spec's defaults filled in (group, kind, namespace).</summary>
    private static JsonObject ParentRefJson(ParentAttachment parent)
    {
        var service = parent.IsMesh;
        var json = new JsonObject
        {
            ["group"] = service ? "" : parent.Ref.Group ?? Group,
            ["kind"] = service ? "Service" : parent.Ref.Kind ?? "Gateway",
            ["namespace"] = parent.Namespace,
            ["name"] = parent.Ref.Name,
        };
        if (parent.Ref.SectionName is { } section)
        {
            json["sectionName"] = section;
        }

        if (parent.Ref.Port is { } port)
        {
            json["port"] = port;
        }

        return json;
    }

    private static JsonObject GatewayStatus(GatewayEntry gateway, GatewayApiIndex index, List<(RouteHead Head, List<ParentAttachment> Parents)> attachments, JsonObject? stored, DateTimeOffset now)
    {
        var unsupported = gateway.Spec.Addresses.Count > 0 && gateway.Address is null;
        var accepted = unsupported
            ? new GatewayCondition("Accepted", false, "UnsupportedAddress", "Trellis serves Gateways on loopback IPAddresses only")
            : new GatewayCondition("Accepted", true, "Accepted", "Gateway is accepted");
        var programmed = gateway.Address is not null
            ? new GatewayCondition("Programmed", true, "Programmed", $"Served on {gateway.Address}")
            : new GatewayCondition("Programmed", false, unsupported ? "Invalid" : "AddressNotAssigned", unsupported ? "No servable address" : "No address assigned yet");
        var listeners = new JsonArray();
        var previous = stored?["listeners"] as JsonArray;
        foreach (var listener in gateway.Spec.Listeners)
        {
            var before = previous?.OfType<JsonObject>().FirstOrDefault(l => (string?)l["name"] == listener.Name)?["conditions"] as JsonArray;
            listeners.Add(new JsonObject
            {
                ["name"] = listener.Name,
                ["supportedKinds"] = new JsonArray([.. RouteAttachments.SupportedKinds(listener).Select(k => (JsonNode)new JsonObject { ["group"] = Group, ["kind"] = k })]),
                ["attachedRoutes"] = attachments.Count(a => a.Parents.Any(p => p.Listeners.Any(l => l.Gateway == gateway && ReferenceEquals(l.Listener, listener)))),
                ["conditions"] = GatewayCondition.Array(ListenerConditions(gateway, listener, index), gateway.Generation, before, now),
            });
        }

        var status = new JsonObject
        {
            ["conditions"] = GatewayCondition.Array([accepted, programmed], gateway.Generation, stored?["conditions"] as JsonArray, now),
            ["listeners"] = listeners,
        };
        if (gateway.Address is { } address)
        {
            status["addresses"] = new JsonArray(new JsonObject { ["type"] = "IPAddress", ["value"] = address });
        }

        return status;
    }

    private static List<GatewayCondition> ListenerConditions(GatewayEntry gateway, Listener listener, GatewayApiIndex index)
    {
        var conditions = new List<GatewayCondition>();
        var protocolConflict = gateway.Spec.Listeners.Any(l => l.Port == listener.Port && l.Protocol != listener.Protocol);
        var hostnameConflict = gateway.Spec.Listeners.Any(l => !ReferenceEquals(l, listener) && l.Port == listener.Port && l.Protocol == listener.Protocol
            && string.Equals(l.Hostname ?? "", listener.Hostname ?? "", StringComparison.OrdinalIgnoreCase));
        var servedProtocol = listener.Protocol is "HTTP" or "HTTPS" or "TCP" || RouteAttachments.IsPassthrough(listener);
        conditions.Add(servedProtocol
            ? new("Accepted", true, "Accepted", "Listener is accepted")
            : new("Accepted", false, "UnsupportedProtocol", listener.Protocol == "TLS"
                ? "TLS listeners are served with tls.mode Passthrough only (TLSRoute)"
                : $"protocol {listener.Protocol} is not served yet"));
        var (_, certificateReason, certificateMessage) = listener.Protocol == "HTTPS" ? GatewayCertificates.Resolve(gateway, listener, index) : (null, null, null);
        conditions.Add(RouteAttachments.HasInvalidKinds(listener)
            ? new("ResolvedRefs", false, "InvalidRouteKinds", "some allowedRoutes kinds are not served on this protocol")
            : certificateReason is not null
                ? new("ResolvedRefs", false, certificateReason, certificateMessage!)
                : new("ResolvedRefs", true, "ResolvedRefs", "All references are resolved"));
        conditions.Add(protocolConflict
            ? new("Conflicted", true, "ProtocolConflict", "another listener on this port has another protocol")
            : hostnameConflict
                ? new("Conflicted", true, "HostnameConflict", "another listener on this port has the same hostname")
                : new("Conflicted", false, "NoConflicts", "No conflicts"));
        var ok = servedProtocol && certificateReason is null && !protocolConflict && !hostnameConflict && gateway.Address is not null;
        conditions.Add(ok
            ? new("Programmed", true, "Programmed", "Listener is served")
            : new("Programmed", false, "Invalid", "Listener is not served"));
        return conditions;
    }

    private static JsonArray? Previous(JsonObject? status) => status?["conditions"] as JsonArray;
}
