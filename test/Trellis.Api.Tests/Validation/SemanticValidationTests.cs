using Trellis.Api.Diagnostics;

namespace Trellis.Api.Tests.Validation;

/// <summary>Each row: a document that binds cleanly but breaks one of its kind's rules, and the path the error must name.</summary>
public sealed class SemanticValidationTests
{
    private const string Vs = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\nspec:\n  hosts: [reviews]\n";
    private const string Dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\nspec:\n  host: reviews\n";
    private const string Gw = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec:\n";
    private const string Deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n";
    private const string Svc = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n";
    private const string Ksvc = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: hello}\nspec:\n  template:\n    spec:\n      containers: [{name: user, image: hello}]\n";
    private const string Route = "  http:\n  - route:\n    - destination: {host: reviews}\n";

    public static TheoryData<string, string, string> Cases => new()
    {
        { "StringMatchTwoFields", Vs + "  http:\n  - match:\n    - uri: {exact: /a, prefix: /b}\n    route:\n    - destination: {host: reviews}\n", "spec.http[0].match[0].uri" },
        { "StringMatchEmpty", Vs + "  http:\n  - match:\n    - uri: {}\n    route:\n    - destination: {host: reviews}\n", "spec.http[0].match[0].uri" },
        { "RegexDoesNotCompile", Vs + "  http:\n  - match:\n    - uri: {regex: '/a(b'}\n    route:\n    - destination: {host: reviews}\n", "spec.http[0].match[0].uri.regex" },
        { "WeightsDoNotSum", Vs + "  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 60\n    - destination: {host: reviews, subset: v2}\n      weight: 30\n", "spec.http[0].route" },
        { "WeightOutOfRange", Vs + "  http:\n  - route:\n    - destination: {host: reviews}\n      weight: 120\n", "spec.http[0].route[0].weight" },
        { "BadTimeout", Vs + Route + "    timeout: 10 seconds\n", "spec.http[0].timeout" },
        { "BadFixedDelay", Vs + Route + "    fault:\n      delay: {fixedDelay: 7x, percentage: {value: 100}}\n", "spec.http[0].fault.delay.fixedDelay" },
        { "AbortPercentageOver100", Vs + Route + "    fault:\n      abort: {httpStatus: 500, percentage: {value: 101}}\n", "spec.http[0].fault.abort.percentage.value" },
        { "RetryOnUnknownCondition", Vs + Route + "    retries: {attempts: 2, retryOn: '5xx,sometimes'}\n", "spec.http[0].retries.retryOn" },
        { "AbortUnknownGrpcStatus", Vs + Route + "    fault:\n      abort: {grpcStatus: NOT_A_STATUS, percentage: {value: 1}}\n", "spec.http[0].fault.abort.grpcStatus" },
        { "CorsUnmatchedPreflightsUnknown", Vs + Route + "    corsPolicy: {unmatchedPreflights: DROP}\n", "spec.http[0].corsPolicy.unmatchedPreflights" },
        { "DirectResponseBytesNotBase64", Vs + "  http:\n  - directResponse: {status: 200, body: {bytes: '***'}}\n", "spec.http[0].directResponse.body.bytes" },
        { "RateLimitNoTokens", "apiVersion: networking.trellis.dev/v1alpha1\nkind: LocalRateLimit\nmetadata: {name: l}\nspec:\n  tokenBucket: {maxTokens: 0, fillInterval: 1s}\n", "spec.tokenBucket.maxTokens" },
        { "RateLimitFillTooShort", "apiVersion: networking.trellis.dev/v1alpha1\nkind: LocalRateLimit\nmetadata: {name: l}\nspec:\n  tokenBucket: {maxTokens: 5, fillInterval: 10ms}\n", "spec.tokenBucket.fillInterval" },
        { "RateLimitFillNotDuration", "apiVersion: networking.trellis.dev/v1alpha1\nkind: LocalRateLimit\nmetadata: {name: l}\nspec:\n  tokenBucket: {maxTokens: 5, fillInterval: soon}\n", "spec.tokenBucket.fillInterval" },
        { "RateLimitZeroPerFill", "apiVersion: networking.trellis.dev/v1alpha1\nkind: LocalRateLimit\nmetadata: {name: l}\nspec:\n  tokenBucket: {maxTokens: 5, tokensPerFill: 0, fillInterval: 1s}\n", "spec.tokenBucket.tokensPerFill" },
        { "RateLimitDuplicateRoute", "apiVersion: networking.trellis.dev/v1alpha1\nkind: LocalRateLimit\nmetadata: {name: l}\nspec:\n  routes: [a, a]\n  tokenBucket: {maxTokens: 5, fillInterval: 1s}\n", "spec.routes[1]" },
        { "RateLimitBadSelectorLabel", "apiVersion: networking.trellis.dev/v1alpha1\nkind: LocalRateLimit\nmetadata: {name: l}\nspec:\n  workloadSelector: {labels: {app: 'no good!'}}\n  tokenBucket: {maxTokens: 5, fillInterval: 1s}\n", "spec.workloadSelector.labels[app]" },
        { "DestinationPortOutOfRange", Vs + "  http:\n  - route:\n    - destination: {host: reviews, port: {number: 70000}}\n", "spec.http[0].route[0].destination.port.number" },
        { "RouteWithoutAction", Vs + "  http:\n  - timeout: 1s\n", "spec.http[0]" },
        { "RedirectAndRoute", Vs + Route + "    redirect: {uri: /x}\n", "spec.http[0]" },
        { "DuplicateSubset", Dr + "  subsets:\n  - name: v1\n  - name: v1\n", "spec.subsets[1]" },
        { "EmptySubsetName", Dr + "  subsets:\n  - name: ''\n", "spec.subsets[0].name" },
        { "MutualWithoutCertificate", Dr + "  trafficPolicy:\n    tls: {mode: MUTUAL, privateKey: /k.pem}\n", "spec.trafficPolicy.tls" },
        { "CredentialNameAndFiles", Dr + "  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 80}\n      tls: {mode: SIMPLE, credentialName: c, caCertificates: /ca.pem}\n", "spec.trafficPolicy.portLevelSettings[0].tls.credentialName" },
        { "InsecureSkipVerifyWithCa", Dr + "  subsets:\n  - name: v1\n    trafficPolicy:\n      tls: {mode: SIMPLE, insecureSkipVerify: true, credentialName: c}\n", "spec.subsets[0].trafficPolicy.tls.insecureSkipVerify" },
        { "OutlierIntervalNotDuration", Dr + "  trafficPolicy:\n    outlierDetection: {interval: often}\n", "spec.trafficPolicy.outlierDetection.interval" },
        { "MaglevTableNotPrime", Dr + "  trafficPolicy:\n    loadBalancer: {consistentHash: {httpHeaderName: x, maglev: {tableSize: 1000}}}\n", "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize" },
        { "RingTooLarge", Dr + "  trafficPolicy:\n    loadBalancer: {consistentHash: {httpHeaderName: x, ringHash: {minimumRingSize: 9000000}}}\n", "spec.trafficPolicy.loadBalancer.consistentHash.ringHash.minimumRingSize" },
        { "SimpleAndConsistentHash", Dr + "  trafficPolicy:\n    loadBalancer: {simple: RANDOM, consistentHash: {httpHeaderName: x}}\n", "spec.trafficPolicy.loadBalancer" },
        { "GatewayNoServers", Gw + "  servers: []\n", "spec.servers" },
        { "GatewayNoHosts", Gw + "  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: []\n", "spec.servers[0].hosts" },
        { "GatewayPortZero", Gw + "  servers:\n  - port: {number: 0, name: http, protocol: HTTP}\n    hosts: ['*']\n", "spec.servers[0].port.number" },
        { "BadObjectName", "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: Reviews_V1}\nspec: {host: reviews}\n", "metadata.name" },
        { "ServiceNameStartsWithDigit", "apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\nspec: {ports: [{port: 80}]}\n", "metadata.name" },
        { "BadLabelValue", "apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {app: 'not valid!'}}\n", "metadata.labels[app]" },
        { "NegativeReplicas", Deploy + "  replicas: -1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web}]}\n", "spec.replicas" },
        { "SelectorDoesNotMatchTemplate", Deploy + "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: web}]}\n", "spec.template.metadata.labels" },
        { "DuplicateContainerName", Deploy + "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web}, {name: web}]}\n", "spec.template.spec.containers[1]" },
        { "ProbeWithTwoHandlers", Deploy + "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: web\n        readinessProbe: {httpGet: {port: 80}, tcpSocket: {port: 80}}\n", "spec.template.spec.containers[0].readinessProbe" },
        { "DuplicateServicePort", Svc + "  ports:\n  - {name: a, port: 80}\n  - {name: b, port: 80}\n", "spec.ports[1]" },
        { "UnnamedPortsInMultiPortService", Svc + "  ports:\n  - {port: 80}\n  - {name: b, port: 81}\n", "spec.ports[0].name" },
        { "KnativeTrafficNotHundred", Ksvc + "  traffic:\n  - {latestRevision: true, percent: 50}\n  - {revisionName: hello-1, percent: 20}\n", "spec.traffic" },
        { "KnativeLatestWithRevisionName", Ksvc + "  traffic:\n  - {latestRevision: true, revisionName: hello-1, percent: 100}\n", "spec.traffic[0].revisionName" },
        { "KnativeConcurrencyTooHigh", "apiVersion: serving.knative.dev/v1\nkind: Configuration\nmetadata: {name: c}\nspec:\n  template:\n    spec:\n      containerConcurrency: 5000\n      containers: [{name: user}]\n", "spec.template.spec.containerConcurrency" },
        { "HttpRouteRedirectCode", "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - filters:\n    - type: RequestRedirect\n      requestRedirect: {statusCode: 305}\n", "spec.rules[0].filters[0].requestRedirect.statusCode" },
        { "HttpRoutePathWithoutSlash", "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - matches: [{path: {type: PathPrefix, value: api}}]\n", "spec.rules[0].matches[0].path.value" },
        { "HttpRouteFilterWithoutConfig", "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - filters: [{type: URLRewrite}]\n", "spec.rules[0].filters[0]" },
        { "PingSourceBadCron", "apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata: {name: p}\nspec:\n  schedule: every minute\n  sink: {uri: 'http://x'}\n", "spec.schedule" },
        { "TriggerWithoutSubscriberTarget", "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  broker: default\n  subscriber: {}\n", "spec.subscriber" },
        { "BrokerBadBackoffDelay", "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\nspec:\n  delivery: {backoffDelay: 2s}\n", "spec.delivery.backoffDelay" },
        { "AuthorizationUnknownConditionKey", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  rules: [{when: [{key: 'request.header[x]', values: [a]}]}]\n", "spec.rules[0].when[0].key" },
        { "AuthorizationBadIpBlock", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  rules: [{from: [{source: {ipBlocks: [10.0.0.0/33]}}]}]\n", "spec.rules[0].from[0].source.ipBlocks[0]" },
        { "AuthorizationEmptySource", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  rules: [{from: [{source: {}}]}]\n", "spec.rules[0].from[0].source" },
        { "AuthorizationEmptyOperation", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  rules: [{to: [{operation: {}}]}]\n", "spec.rules[0].to[0].operation" },
        { "AuthorizationBadSourceIpCondition", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec:\n  rules: [{when: [{key: source.ip, values: [not-an-ip]}]}]\n", "spec.rules[0].when[0]" },
        { "JwtPayloadHeaderNotAName", "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: j}\nspec:\n  jwtRules: [{issuer: i, outputPayloadToHeader: 'x payload'}]\n", "spec.jwtRules[0].outputPayloadToHeader" },
        { "JwtClaimHeaderNotAName", "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: j}\nspec:\n  jwtRules: [{issuer: i, outputClaimToHeaders: [{header: 'x:sub', claim: sub}]}]\n", "spec.jwtRules[0].outputClaimToHeaders[0].header" },
        { "AuthorizationCustomWithoutProvider", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: a}\nspec: {action: CUSTOM}\n", "spec.provider" },
        { "ServiceEntryNoneWithEndpoints", "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\nspec:\n  hosts: [api.example.com]\n  resolution: NONE\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  endpoints: [{address: 127.0.0.2}]\n", "spec.endpoints" },
        { "ServiceEntryStaticHostName", "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\nspec:\n  hosts: [api.example.com]\n  resolution: STATIC\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  endpoints: [{address: api.internal}]\n", "spec.endpoints[0].address" },
        { "ServiceEntryDnsBadName", "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\nspec:\n  hosts: [api.example.com]\n  resolution: DNS\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  endpoints: [{address: 'not a name'}]\n", "spec.endpoints[0].address" },
        { "ServiceEntryDnsWildcard", "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\nspec:\n  hosts: ['*.example.com']\n  resolution: DNS\n  ports: [{number: 80, name: http, protocol: HTTP}]\n", "spec.hosts[0]" },
        { "ServiceEntryRoundRobinTwoEndpoints", "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\nspec:\n  hosts: [api.example.com]\n  resolution: DNS_ROUND_ROBIN\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  endpoints: [{address: a.example.com}, {address: b.example.com}]\n", "spec.endpoints" },
        { "MeshConfigUnknownMode", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    outboundTrafficPolicy:\n      mode: DENY_ALL\n", "data.mesh" },
        { "MeshConfigNotYaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: '{outboundTrafficPolicy: [}'\n", "data.mesh" },
        { "TelemetrySamplingOver100", "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\nspec:\n  tracing: [{randomSamplingPercentage: 101}]\n", "spec.tracing[0].randomSamplingPercentage" },
        { "TelemetryFilterNotInSubset", "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\nspec:\n  accessLogging: [{filter: {expression: 'size(request.path) > 3'}}]\n", "spec.accessLogging[0].filter.expression" },
        { "TelemetryTagExpressionNotEvaluated", "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\nspec:\n  metrics: [{overrides: [{tagOverrides: {request_size: {value: 'string(request.size)'}}}]}]\n", "spec.metrics[0].overrides[0].tagOverrides.request_size.value" },
        { "TelemetryTagUpsertWithoutValue", "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\nspec:\n  metrics: [{overrides: [{tagOverrides: {request_host: {operation: UPSERT}}}]}]\n", "spec.metrics[0].overrides[0].tagOverrides.request_host" },
        { "TelemetryTagRemoveWithValue", "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\nspec:\n  metrics: [{overrides: [{tagOverrides: {response_code: {operation: REMOVE, value: request.host}}}]}]\n", "spec.metrics[0].overrides[0].tagOverrides.response_code.value" },
        { "TelemetryTagNotALabelName", "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\nspec:\n  metrics: [{overrides: [{tagOverrides: {request-host: {value: request.host}}}]}]\n", "spec.metrics[0].overrides[0].tagOverrides.request-host" },
        { "TelemetryTwoKindsOfTag", "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\nspec:\n  tracing: [{customTags: {a: {literal: {value: x}, header: {name: y}}}}]\n", "spec.tracing[0].customTags.a" },
        { "MeshConfigAccessLogEncoding", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    accessLogEncoding: XML\n", "data.mesh" },
        { "MeshConfigAccessLogFormat", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    accessLogFormat: '%NOT_AN_OPERATOR%'\n", "data.mesh" },
        { "MeshConfigOtelWithoutPort", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    extensionProviders: [{name: otel, opentelemetry: {service: collector}}]\n", "data.mesh" },
        { "ServiceEntryStaticWithoutEndpoints", "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\nspec:\n  hosts: [db.example.com]\n  resolution: STATIC\n  ports: [{number: 5432, name: pg, protocol: TCP}]\n", "spec.endpoints" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Read_BreaksKindRule_ReportsInvalidValueAtPath(string name, string text, string path)
    {
        var result = ResourceReader.Read(text, name);

        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(path, d.Path);
        Assert.Contains(d.Code, new[] { DiagnosticCodes.InvalidValue, DiagnosticCodes.DuplicateEntry });
        Assert.Equal(Severity.Error, d.Severity);
        Assert.True(d.Line > 0);
        Assert.Empty(result.Resources);
    }

    [Fact]
    public void Read_SemanticErrors_PointAtTheirLine()
    {
        var text = Vs + "  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 60\n    - destination: {host: reviews, subset: v2}\n      weight: 130\n";

        var result = ResourceReader.Read(text);

        Assert.Equal([("spec.http[0].route", 7), ("spec.http[0].route[1].weight", 11)], result.Diagnostics.Select(d => (d.Path, d.Line)).ToArray());
    }

    [Theory]
    [InlineData("weight: 100\n")]
    [InlineData("")]
    public void Read_SingleDestination_MayOmitWeight(string weight)
    {
        var result = ResourceReader.Read(Vs + Route + (weight.Length > 0 ? "      " + weight : ""));

        Assert.Empty(result.Diagnostics.ExceptNotEnforced());
    }

    [Fact]
    public void Read_HeaderPresenceMatch_EmptyStringMatchIsAllowed()
    {
        var result = ResourceReader.Read(Vs + "  http:\n  - match:\n    - headers:\n        x-canary: {}\n    route:\n    - destination: {host: reviews}\n");

        Assert.Empty(result.Diagnostics.ExceptNotEnforced());
    }
}
