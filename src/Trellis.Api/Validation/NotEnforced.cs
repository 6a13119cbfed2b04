using System.Text.Json.Nodes;
using Trellis.Api.Diagnostics;

namespace Trellis.Api.Validation;

/// <summary>
/// The fields Trellis reads, validates and stores but does not act on yet. A user who sets one gets a warning
/// (<see cref="DiagnosticCodes.AcceptedNotEnforced"/>) at <c>apply</c> and <c>analyze</c>, with the field's path and
/// line, instead of silence. This table is the one place that says what is not enforced: the work that gives a
/// field its behaviour removes its row, and docs/diagnostics.md lists the rows.
/// </summary>
public static class NotEnforced
{
    /// <summary>
    /// A field (or a whole spec) that has no behaviour. <paramref name="Pattern"/> is a field path with <c>[*]</c> for
    /// any list index and an optional <c>=VALUE</c> suffix for a scalar that only matters with that value
    /// (case-insensitive; in a comma-separated scalar such as <c>retryOn</c>, one of its items); <paramref name="Reason"/>
    /// says what is missing.
    /// </summary>
    public sealed record Entry(string Group, string Kind, string Pattern, string Reason);

    private const string Istio = ResourceKinds.IstioNetworking;
    private const string Security = ResourceKinds.IstioSecurity;
    private const string GatewayApi = ResourceKinds.GatewayApi;

    public static IReadOnlyList<Entry> Entries { get; } =
    [
        // Issue 10: traffic policy.
        new(Istio, "VirtualService", "spec.http[*].delegate", "delegate VirtualServices are not resolved"),
        new(Istio, "VirtualService", "spec.exportTo", "exportTo visibility is not applied: every namespace sees the resource"),
        new(Istio, "DestinationRule", "spec.trafficPolicy.loadBalancer.localityLbSetting", "locality-aware balancing is not applied (one locality)"),
        new(Istio, "DestinationRule", "spec.subsets[*].trafficPolicy.loadBalancer.localityLbSetting", "locality-aware balancing is not applied (one locality)"),
        new(Istio, "DestinationRule", "spec.trafficPolicy.tunnel", "tunnelling is not applied"),
        new(Istio, "DestinationRule", "spec.trafficPolicy.proxyProtocol", "the PROXY protocol is not sent"),
        new(Istio, "DestinationRule", "spec.exportTo", "exportTo visibility is not applied: every namespace sees the resource"),
        new(Istio, "DestinationRule", "spec.workloadSelector", "workload-scoped DestinationRules are not applied: the rule applies to every client"),

        // Issue 13: telemetry (the Telemetry kind).
        new(ResourceKinds.IstioTelemetry, "Telemetry", "spec.targetRef", "targetRef attachment is not applied: use a selector"),
        new(ResourceKinds.IstioTelemetry, "Telemetry", "spec.targetRefs", "targetRefs attachment is not applied: use a selector"),
        new(ResourceKinds.IstioTelemetry, "Telemetry", "spec.tracing[*].useRequestIdForTraceSampling", "new traces are sampled by a random draw, not by the request id"),
        new(ResourceKinds.IstioTelemetry, "Telemetry", "spec.tracing[*].enableIstioTags", "Istio's span tags are always added"),
        new(ResourceKinds.IstioTelemetry, "Telemetry", "spec.metrics[*].overrides[*].match.customMetric", "there are no custom metrics"),
        new(ResourceKinds.IstioTelemetry, "Telemetry", "spec.metrics[*].overrides[*].match.metric=GRPC_REQUEST_MESSAGES", "gRPC messages are not counted (no istio_request_messages_total)"),
        new(ResourceKinds.IstioTelemetry, "Telemetry", "spec.metrics[*].overrides[*].match.metric=GRPC_RESPONSE_MESSAGES", "gRPC messages are not counted (no istio_response_messages_total)"),
        new(ResourceKinds.IstioTelemetry, "Telemetry", "spec.metrics[*].reportingInterval", "Prometheus reads the proxies' counts when it scrapes: there is no reporting interval"),

        // Audit of the kinds Trellis reads: fields stored without behaviour outside issue 10's traffic policy.
        new(Istio, "VirtualService", "spec.http[*].retries.retryOn=reset-before-request", "reset-before-request is not a retry condition of the proxy"),
        new(Istio, "VirtualService", "spec.http[*].retries.retryOn=envoy-ratelimited", "envoy-ratelimited is not a retry condition of the proxy (no global rate limit)"),
        new(Istio, "VirtualService", "spec.http[*].retries.retryOn=http3-post-connect-failure", "the proxy has no HTTP/3 upstreams"),
        new(Istio, "VirtualService", "spec.http[*].fault.abort.http2Error", "HTTP/2 error aborts are not injected (Istio does not translate them either)"),
        new(Istio, "VirtualService", "spec.http[*].match[*].statPrefix", "route statistics prefixes are not used: no per-route metrics yet"),
        new(Istio, "DestinationRule", "spec.trafficPolicy.connectionPool.http.h2UpgradePolicy", "upstreams are not upgraded to HTTP/2 (the Service port's protocol decides)"),
        new(Istio, "DestinationRule", "spec.trafficPolicy.connectionPool.http.useClientProtocol", "the upstream protocol is the cluster's, not the client's"),
        new(Istio, "DestinationRule", "spec.trafficPolicy.connectionPool.http.maxConcurrentStreams", "HTTP/2 upstream streams per connection are not limited"),
        new(Istio, "DestinationRule", "spec.subsets[*].trafficPolicy.connectionPool.http.h2UpgradePolicy", "upstreams are not upgraded to HTTP/2 (the Service port's protocol decides)"),
        new(Istio, "DestinationRule", "spec.subsets[*].trafficPolicy.connectionPool.http.useClientProtocol", "the upstream protocol is the cluster's, not the client's"),
        new(Istio, "DestinationRule", "spec.subsets[*].trafficPolicy.connectionPool.http.maxConcurrentStreams", "HTTP/2 upstream streams per connection are not limited"),
        new(Istio, "Gateway", "spec.servers[*].bind", "servers listen on 127.0.0.1: bind is not applied"),
        new(Istio, "Gateway", "spec.servers[*].defaultEndpoint", "defaultEndpoint is not applied"),
        new(Istio, "Gateway", "spec.servers[*].port.targetPort", "the gateway listens on port.number; targetPort is not applied"),
        new(Istio, "Gateway", "spec.servers[*].tls.caCertificates", "file-based CA certificates are not read: put ca.crt in the credentialName Secret"),
        new(Istio, "Gateway", "spec.servers[*].tls.caCrl", "certificate revocation lists are not checked"),
        new(Istio, "Gateway", "spec.servers[*].tls.verifyCertificateSpki", "client certificates are checked against the CA and subjectAltNames only"),
        new(Istio, "Gateway", "spec.servers[*].tls.verifyCertificateHash", "client certificates are checked against the CA and subjectAltNames only"),
        new(Istio, "Gateway", "spec.servers[*].tls.privateKey", "file-based certificates are not read: use credentialName"),
        new(ResourceKinds.Core, "Service", "spec.type=NodePort", "services are reached through the mesh's proxies: no node ports"),
        new(ResourceKinds.Core, "Service", "spec.type=LoadBalancer", "services are reached through the mesh's proxies: no load balancer addresses"),
        new(ResourceKinds.Core, "Service", "spec.type=ExternalName", "ExternalName services are not routed"),
        new(ResourceKinds.Core, "Service", "spec.externalName", "ExternalName services are not routed"),
        new(ResourceKinds.Core, "Service", "spec.clusterIP", "services have no virtual IP: clients reach them by name through their outbound proxy"),
        new(ResourceKinds.Core, "Service", "spec.clusterIPs", "services have no virtual IP: clients reach them by name through their outbound proxy"),
        new(ResourceKinds.Core, "Service", "spec.sessionAffinity=ClientIP", "ClientIP affinity is not applied (use a DestinationRule consistentHash)"),
        new(ResourceKinds.Core, "Service", "spec.publishNotReadyAddresses", "instances that are not ready are never endpoints"),
        new(ResourceKinds.Core, "Service", "spec.externalTrafficPolicy", "traffic policies of Kubernetes proxies do not apply"),
        new(ResourceKinds.Core, "Service", "spec.internalTrafficPolicy", "traffic policies of Kubernetes proxies do not apply"),
        new(ResourceKinds.Core, "Service", "spec.loadBalancerIP", "no load balancer addresses"),
        new(ResourceKinds.Core, "Service", "spec.ports[*].targetPort", "each instance listens on the PORT the runtime gives it; targetPort is not used"),
        new(ResourceKinds.Core, "Service", "spec.ports[*].nodePort", "no node ports"),
        new(ResourceKinds.Apps, "Deployment", "spec.strategy", "instances are replaced all at once on change; the rollout strategy is not applied"),
        new(ResourceKinds.Apps, "Deployment", "spec.minReadySeconds", "minReadySeconds is not applied"),
        new(ResourceKinds.Apps, "Deployment", "spec.progressDeadlineSeconds", "progressDeadlineSeconds is not applied"),
        new(ResourceKinds.Apps, "Deployment", "spec.revisionHistoryLimit", "no ReplicaSet history is kept"),
        new(ResourceKinds.Apps, "Deployment", "spec.paused", "paused is not applied"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.initContainers", "init containers are not run"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.nodeSelector", "instances run on the agent that reads the Deployment; nodeSelector is not applied"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.affinity", "affinity is not applied"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.tolerations", "tolerations are not applied"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.topologySpreadConstraints", "topology spread is not applied"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.volumes", "volumes are not mounted: instances see the host's file system"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.imagePullSecrets", "images are not pulled: the local runtime runs commands"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.securityContext", "security contexts are not applied"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.hostname", "hostname is not applied"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.restartPolicy", "instances are always restarted with backoff"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.containers[*].env[*].valueFrom", "env values from references are not resolved: only value is set"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.containers[*].envFrom", "envFrom is not resolved"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.containers[*].livenessProbe", "liveness probes are not run"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.containers[*].startupProbe", "startup probes are not run"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.containers[*].readinessProbe.exec", "exec probes are run as TCP probes of the instance's PORT"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.containers[*].readinessProbe.grpc", "gRPC probes are run as TCP probes of the instance's PORT"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.containers[*].readinessProbe.httpGet.httpHeaders", "probe headers are not sent"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.containers[*].resources", "resource requests and limits are not applied (usage is metered)"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.containers[*].volumeMounts", "volumes are not mounted"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.containers[*].securityContext", "security contexts are not applied"),
        new(ResourceKinds.Apps, "Deployment", "spec.template.spec.containers[*].lifecycle", "lifecycle hooks are not run"),

        // Issue 11: routing dialects, egress, protocols.
        new(Istio, "ServiceEntry", "spec.ports[*].protocol=UDP", "UDP is not proxied"),
        new(Istio, "ServiceEntry", "spec.location=MESH_INTERNAL", "MESH_INTERNAL endpoints are reached like external ones: auto mTLS does not target them"),
        new(Istio, "ServiceEntry", "spec.endpoints[*].network", "one network: endpoints of other networks are not reached through gateways"),
        new(Istio, "ServiceEntry", "spec.endpoints[*].locality", "locality-aware balancing is not applied (one locality)"),
        new(Istio, "ServiceEntry", "spec.endpoints[*].weight", "endpoint weights are not applied: endpoints are balanced equally"),
        new(Istio, "ServiceEntry", "spec.endpoints[*].serviceAccount", "endpoint identities are not verified: ServiceEntry endpoints are reached without mTLS"),
        new(Istio, "ServiceEntry", "spec.exportTo", "exportTo visibility is not applied: every namespace sees the resource"),
        new(Istio, "ServiceEntry", "spec.subjectAltNames", "not used for TLS origination: name the server's SANs in the DestinationRule's tls.subjectAltNames"),
        new(Istio, "Sidecar", "spec.ingress", "ingress listeners are not applied: the inbound listener forwards to the instance's port"),
        new(Istio, "Sidecar", "spec.egress[*].bind", "egress listeners do not bind addresses of their own: the view applies to the outbound listener"),
        new(Istio, "Sidecar", "spec.egress[*].captureMode", "egress listeners do not bind addresses of their own: the view applies to the outbound listener"),
        new(Istio, "Sidecar", "spec.outboundTrafficPolicy.egressProxy", "egress proxies are not applied: ALLOW_ANY passes through directly"),
        new(Istio, "Sidecar", "spec.inboundConnectionPool", "inbound connection pools are not applied"),
        new(GatewayApi, "GatewayClass", "spec.parametersRef", "GatewayClass parameters are not read"),
        new(GatewayApi, "Gateway", "spec.infrastructure", "infrastructure labels and annotations are not applied"),
        new(GatewayApi, "Gateway", "spec.listeners[*].protocol=TLS", "TLS listeners are not served yet (status UnsupportedProtocol)"),
        new(GatewayApi, "Gateway", "spec.listeners[*].protocol=UDP", "UDP listeners are not served (status UnsupportedProtocol)"),
        new(GatewayApi, "Gateway", "spec.listeners[*].tls.mode=Passthrough", "TLS passthrough is not served yet (the listener is not programmed)"),
        new(GatewayApi, "Gateway", "spec.listeners[*].tls.options", "TLS options are the runtime's defaults"),
        new(GatewayApi, "HTTPRoute", "spec.rules[*].filters[*].extensionRef", "extension filters are not supported"),
        new(GatewayApi, "HTTPRoute", "spec.rules[*].sessionPersistence", "session persistence is not applied"),
        new(GatewayApi, "GRPCRoute", "spec.rules[*].filters[*].requestMirror", "mirror copies are sent over HTTP/1.1 only: a mirror backend whose port is gRPC or HTTP/2 gets no copies"),
        new(GatewayApi, "GRPCRoute", "spec.rules[*].filters[*].extensionRef", "extension filters are not supported"),
        new(GatewayApi, "GRPCRoute", "spec.rules[*].sessionPersistence", "session persistence is not applied"),

        // Issue 12: security.
        new(Security, "AuthorizationPolicy", "spec.targetRef", "policies attached by targetRef are not applied"),
        new(Security, "AuthorizationPolicy", "spec.targetRefs", "policies attached by targetRefs are not applied"),
        new(Security, "AuthorizationPolicy", "spec.rules[*].when[*].key=connection.sni", "the TLS server name is not evaluated: it matches no value"),
        new(Security, "AuthorizationPolicy", "spec.rules[*].when[*].key=destination.ip", "the destination address is not evaluated: it matches no value"),
        new(Security, "RequestAuthentication", "spec.targetRef", "policies attached by targetRef are not applied"),
        new(Security, "RequestAuthentication", "spec.targetRefs", "policies attached by targetRefs are not applied"),
        new(Istio, "DestinationRule", "spec.trafficPolicy.tls.caCrl", "certificate revocation lists are not checked"),
        new(Istio, "DestinationRule", "spec.subsets[*].trafficPolicy.tls.caCrl", "certificate revocation lists are not checked"),
        new(Istio, "DestinationRule", "spec.trafficPolicy.portLevelSettings[*].tls.caCrl", "certificate revocation lists are not checked"),
        new(Istio, "DestinationRule", "spec.subsets[*].trafficPolicy.portLevelSettings[*].tls.caCrl", "certificate revocation lists are not checked"),
        new(Istio, "Gateway", "spec.servers[*].tls.mode=AUTO_PASSTHROUGH", "AUTO_PASSTHROUGH servers are not served yet (the port is skipped)"),
        new(Istio, "Gateway", "spec.servers[*].tls.serverCertificate", "file-based certificates are not read: use credentialName"),
        new(Istio, "Gateway", "spec.servers[*].tls.credentialNames", "a second certificate per server (RSA beside ECDSA) is not served: use credentialName"),
        new(Istio, "Gateway", "spec.servers[*].tls.minProtocolVersion", "TLS versions are the runtime's defaults"),
        new(Istio, "Gateway", "spec.servers[*].tls.maxProtocolVersion", "TLS versions are the runtime's defaults"),
        new(Istio, "Gateway", "spec.servers[*].tls.cipherSuites", "cipher suites are the runtime's defaults"),

        // Issue 14: eventing.
        new(ResourceKinds.KnativeEventing, "Broker", "spec.config", "the broker class's config is not read: every broker uses the control plane's event store"),
        new(ResourceKinds.KnativeEventing, "Broker", "spec.delivery.retryAfterMax", "Retry-After answers are not honoured yet: retries follow the backoff"),
        new(ResourceKinds.KnativeEventing, "Broker", "spec.delivery.deadLetterSink.CACerts", "deliveries are plain HTTP: no TLS to sinks yet"),
        new(ResourceKinds.KnativeEventing, "Broker", "spec.delivery.deadLetterSink.audience", "no OIDC tokens are sent to sinks yet"),
        new(ResourceKinds.KnativeEventing, "Trigger", "spec.delivery.retryAfterMax", "Retry-After answers are not honoured yet: retries follow the backoff"),
        new(ResourceKinds.KnativeEventing, "Trigger", "spec.subscriber.CACerts", "deliveries are plain HTTP: no TLS to subscribers yet"),
        new(ResourceKinds.KnativeEventing, "Trigger", "spec.subscriber.audience", "no OIDC tokens are sent to subscribers yet"),
        new(ResourceKinds.KnativeEventing, "Trigger", "spec.delivery.deadLetterSink.CACerts", "deliveries are plain HTTP: no TLS to sinks yet"),
        new(ResourceKinds.KnativeEventing, "Trigger", "spec.delivery.deadLetterSink.audience", "no OIDC tokens are sent to sinks yet"),
        new(ResourceKinds.KnativeSources, "PingSource", "spec.sink.CACerts", "deliveries are plain HTTP: no TLS to sinks yet"),
        new(ResourceKinds.KnativeSources, "PingSource", "spec.sink.audience", "no OIDC tokens are sent to sinks yet"),
        new(ResourceKinds.KnativeSources, "SinkBinding", "spec.sink.CACerts", "K_CA_CERTS is not injected: sinks are plain HTTP"),
        new(ResourceKinds.KnativeSources, "SinkBinding", "spec.sink.audience", "no OIDC token is mounted for the bound workloads yet"),
    ];

    /// <summary>One warning per field of <paramref name="resource"/> that is set and has no behaviour.</summary>
    public static IReadOnlyList<Diagnostic> Check(Resource resource)
    {
        var info = ResourceKinds.Find(resource.ApiVersion, resource.Kind);
        if (info is null || resource.Spec is null)
        {
            return [];
        }

        JsonObject? document = null;
        var findings = new List<Diagnostic>();
        foreach (var entry in Entries)
        {
            if (entry.Group != info.Group || entry.Kind != info.Kind)
            {
                continue;
            }

            document ??= ResourceWriter.ToJsonObject(resource);
            var (pattern, value) = Split(entry.Pattern);
            foreach (var path in Find(document, pattern, value))
            {
                findings.Add(new Diagnostic(
                    DiagnosticCodes.AcceptedNotEnforced,
                    Severity.Warning,
                    $"accepted, not enforced: {entry.Reason}",
                    path));
            }
        }

        return findings;
    }

    /// <summary>
    /// Null when <paramref name="entry"/>'s pattern names fields its kind has (<c>[*]</c> on lists it goes into; a list
    /// named last stands for the whole list),
    /// else what is wrong: a typo in this table would otherwise hide a warning silently.
    /// </summary>
    internal static string? Problem(Entry entry)
    {
        var info = ResourceKinds.FindByGroup(entry.Group, entry.Kind);
        if (info?.SpecType is null)
        {
            return $"{entry.Group}/{entry.Kind} is not a kind with a spec";
        }

        var segments = Split(entry.Pattern).Pattern.Split('.');
        if (segments[0] != "spec")
        {
            return $"{entry.Pattern} does not start at spec";
        }

        var type = info.SpecType;
        for (var i = 1; i < segments.Length; i++)
        {
            var segment = segments[i];
            var any = segment.EndsWith("[*]", StringComparison.Ordinal);
            var name = any ? segment[..^3] : segment;
            var field = Schema.TypeModel.For(type).Fields.FirstOrDefault(f => f.JsonName == name);
            if (field is null)
            {
                return $"{entry.Pattern}: {type.Name} has no field \"{name}\"";
            }

            var (shape, element) = Schema.TypeModel.ShapeOf(field.ValueType);
            var last = i == segments.Length - 1;
            if (any ? shape != Schema.ValueShape.List : shape == Schema.ValueShape.List && !last)
            {
                return $"{entry.Pattern}: \"{name}\" {(any ? "is not a list" : "is a list: write [*]")}";
            }

            type = any ? element! : Nullable.GetUnderlyingType(field.ValueType) ?? field.ValueType;
        }

        return null;
    }

    private static (string Pattern, string? Value) Split(string pattern)
    {
        var equals = pattern.IndexOf('=', StringComparison.Ordinal);
        return equals < 0 ? (pattern, null) : (pattern[..equals], pattern[(equals + 1)..]);
    }

    /// <summary>The concrete paths (<c>spec.http[2].fault</c>) where <paramref name="pattern"/> holds a value.</summary>
    internal static IEnumerable<string> Find(JsonNode root, string pattern, string? value)
    {
        var nodes = new List<(JsonNode Node, string Path)> { (root, "") };
        foreach (var segment in pattern.Split('.'))
        {
            var any = segment.EndsWith("[*]", StringComparison.Ordinal);
            var name = any ? segment[..^3] : segment;
            var next = new List<(JsonNode, string)>();
            foreach (var (node, path) in nodes)
            {
                if (node is not JsonObject obj || obj[name] is not { } child)
                {
                    continue;
                }

                var childPath = path.Length == 0 ? name : $"{path}.{name}";
                if (!any)
                {
                    next.Add((child, childPath));
                }
                else if (child is JsonArray array)
                {
                    for (var i = 0; i < array.Count; i++)
                    {
                        if (array[i] is { } item)
                        {
                            next.Add((item, $"{childPath}[{i}]"));
                        }
                    }
                }
            }

            nodes = next;
        }

        foreach (var (node, path) in nodes)
        {
            if (IsSet(node) && (value is null || (node is JsonValue v && v.TryGetValue<string>(out var s) && HasValue(s, value))))
            {
                yield return path;
            }
        }
    }

    /// <summary>The scalar is <paramref name="value"/>, or a comma-separated list (Istio's <c>retryOn</c>) holding it.</summary>
    private static bool HasValue(string scalar, string value) =>
        scalar.Split(',').Any(item => item.Trim().Equals(value, StringComparison.OrdinalIgnoreCase));

    private static bool IsSet(JsonNode node) => node switch
    {
        JsonArray a => a.Count > 0,
        JsonObject o => o.Count > 0,
        JsonValue v => !(v.TryGetValue<bool>(out var b) && !b),
        _ => false,
    };
}
