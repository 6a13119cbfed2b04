using Trellis.Api.Eventing;
using Trellis.Api.Networking;
using Trellis.Api.Security;

namespace Trellis.Api.Tests.Reading;

/// <summary>One realistic document per kind the conformance data does not cover, to prove each binds and validates.</summary>
public sealed class KindCoverageTests
{
    public static TheoryData<string, string> Documents => new()
    {
        {
            "ServiceEntry", """
            apiVersion: networking.istio.io/v1beta1
            kind: ServiceEntry
            metadata: {name: db}
            spec:
              hosts: [db.internal]
              addresses: [10.0.0.5/32]
              ports: [{number: 5432, name: tcp-pg, protocol: TCP}]
              location: MESH_INTERNAL
              resolution: STATIC
              endpoints:
              - {address: 10.0.0.5, ports: {tcp-pg: 5433}, labels: {app: db}}
            """
        },
        {
            "TLSRoute", """
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TLSRoute
            metadata: {name: api, namespace: infra}
            spec:
              parentRefs: [{name: gw, sectionName: tls}]
              hostnames: [api.example.com, "*.internal.example.com"]
              rules:
              - backendRefs: [{name: api, port: 8443, weight: 90}, {name: api-canary, port: 8443, weight: 10}]
            """
        },
        {
            "LocalRateLimit", """
            apiVersion: networking.trellis.dev/v1alpha1
            kind: LocalRateLimit
            metadata: {name: reviews, namespace: bookinfo}
            spec:
              workloadSelector: {labels: {app: reviews}}
              routes: [api]
              tokenBucket: {maxTokens: 100, tokensPerFill: 10, fillInterval: 1s}
            """
        },
        {
            "Telemetry", """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: reviews, namespace: bookinfo}
            spec:
              selector: {matchLabels: {app: reviews}}
              accessLogging:
              - match: {mode: SERVER}
                providers: [{name: envoy}]
                filter: {expression: "response.code >= 400 || request.headers['x-debug'] == '1'"}
              tracing:
              - providers: [{name: otel}]
                randomSamplingPercentage: 10.5
              metrics:
              - providers: [{name: prometheus}]
                overrides: [{match: {metric: ALL_METRICS, mode: CLIENT_AND_SERVER}, disabled: false}]
            """
        },
        {
            "Sidecar", """
            apiVersion: networking.istio.io/v1alpha3
            kind: Sidecar
            metadata: {name: default, namespace: bookinfo}
            spec:
              workloadSelector: {labels: {app: reviews}}
              egress:
              - hosts: ["./*", "istio-system/*"]
              outboundTrafficPolicy: {mode: REGISTRY_ONLY}
            """
        },
        {
            "VirtualServiceEverything", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: everything}
            spec:
              hosts: [reviews]
              http:
              - name: canary
                match:
                - uri: {prefix: /api}
                  headers: {x-canary: {regex: "^(yes|true)$"}}
                  queryParams: {debug: {exact: "1"}}
                  withoutHeaders: {x-skip: {}}
                  ignoreUriCase: true
                rewrite: {uri: /v2/api, authority: reviews-v2}
                route:
                - destination: {host: reviews, subset: v2, port: {number: 9080}}
                  weight: 90
                  headers: {request: {set: {x-version: v2}}}
                - destination: {host: reviews, subset: v1}
                  weight: 10
                timeout: 1.5s
                retries: {attempts: 3, perTryTimeout: 500ms, retryOn: "5xx,connect-failure"}
                fault:
                  delay: {fixedDelay: 100ms, percentage: {value: 0.1}}
                  abort: {httpStatus: 503, percentage: {value: 1}}
                mirror: {host: reviews, subset: shadow}
                mirrorPercentage: {value: 5}
                corsPolicy: {allowOrigins: [{exact: "https://example.com"}], allowMethods: [GET], maxAge: 24h}
                headers: {response: {remove: [x-internal]}, request: {add: {x-trace: "on"}}}
              - redirect: {uri: /login, redirectCode: 302, derivePort: FROM_REQUEST_PORT}
              - directResponse: {status: 404, body: {string: not here}}
              tcp:
              - match: [{port: 27017}]
                route: [{destination: {host: mongo}}]
              tls:
              - match: [{sniHosts: [secure.example.com], port: 443}]
                route: [{destination: {host: secure}}]
            """
        },
        {
            "PeerAuthentication", """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: strict, namespace: bookinfo}
            spec:
              selector: {matchLabels: {app: reviews}}
              mtls: {mode: STRICT}
              portLevelMtls: {"9080": {mode: PERMISSIVE}}
            """
        },
        {
            "AuthorizationPolicy", """
            apiVersion: security.istio.io/v1beta1
            kind: AuthorizationPolicy
            metadata: {name: reviews-viewer}
            spec:
              selector: {matchLabels: {app: reviews}}
              action: ALLOW
              rules:
              - from: [{source: {principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]}}]
                to: [{operation: {methods: [GET], ports: ["9080"], paths: ["/reviews/*"]}}]
                when: [{key: "request.headers[version]", values: [v1, v2]}]
            """
        },
        {
            "RequestAuthentication", """
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: jwt}
            spec:
              jwtRules:
              - issuer: https://issuer.example.com
                jwksUri: https://issuer.example.com/jwks.json
                fromHeaders: [{name: x-jwt, prefix: "Bearer "}]
                outputClaimToHeaders: [{header: x-sub, claim: sub}]
            """
        },
        {
            "Broker", """
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: default}
            spec:
              delivery:
                retry: 5
                backoffPolicy: exponential
                backoffDelay: PT0.2S
                deadLetterSink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dlq}}
            """
        },
        {
            "Trigger", """
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: orders}
            spec:
              broker: default
              filter: {attributes: {type: dev.example.order.created}}
              filters:
              - any:
                - exact: {type: dev.example.order.created}
                - cesql: "source LIKE '%orders%'"
              subscriber:
                ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: handler}
                uri: /events
            """
        },
        {
            "PingSource", """
            apiVersion: sources.knative.dev/v1
            kind: PingSource
            metadata: {name: every-minute}
            spec:
              schedule: "*/1 * * * *"
              contentType: application/json
              data: '{"message": "hello"}'
              sink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: handler}}
            """
        },
        {
            "KnativeRoute", """
            apiVersion: serving.knative.dev/v1
            kind: Route
            metadata: {name: hello}
            spec:
              traffic:
              - {revisionName: hello-00001, percent: 50}
              - {configurationName: hello, percent: 50, tag: latest}
            """
        },
    };

    [Theory]
    [MemberData(nameof(Documents))]
    public void Read_KindDocument_HasNoDiagnostics(string name, string text)
    {
        var result = ResourceReader.Read(text, name);

        Assert.True(result.Diagnostics.ExceptNotEnforced().Count == 0, string.Join("\n", result.Diagnostics.ExceptNotEnforced()));
        var resource = Assert.Single(result.Resources);
        Assert.NotNull(resource.Spec);
        var again = ResourceReader.Read(ResourceWriter.ToYaml(resource));
        Assert.Equal(ResourceWriter.ToJson(resource), ResourceWriter.ToJson(Assert.Single(again.Resources)));
    }

    [Fact]
    public void Read_TypedEnumsAndNestedFilters_AreBound()
    {
        var pa = ResourceReader.Read(Documents.Single(r => (string)r[0] == "PeerAuthentication")[1].ToString()!).Resources[0].GetSpec<PeerAuthenticationSpec>();
        var trigger = ResourceReader.Read(Documents.Single(r => (string)r[0] == "Trigger")[1].ToString()!).Resources[0].GetSpec<TriggerSpec>();
        var vs = ResourceReader.Read(Documents.Single(r => (string)r[0] == "VirtualServiceEverything")[1].ToString()!).Resources[0].GetSpec<VirtualServiceSpec>();

        Assert.Equal(MutualTlsMode.Strict, pa.Mtls!.Mode);
        Assert.Equal(MutualTlsMode.Permissive, pa.PortLevelMtls["9080"].Mode);
        Assert.Equal("source LIKE '%orders%'", trigger.Filters[0].Any[1].Cesql);
        Assert.Equal(RedirectPortSelection.FromRequestPort, vs.Http[1].Redirect!.DerivePort);
        Assert.Equal(0.1, vs.Http[0].Fault!.Delay!.Percentage!.Value);
        Assert.True(Durations.TryParse(vs.Http[0].Timeout!, out var timeout) && timeout == TimeSpan.FromMilliseconds(1500));
    }

    [Fact]
    public void Read_Status_IsKeptFreeForm()
    {
        var result = ResourceReader.Read("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\nstatus:\n  conditions: [{type: Ready, status: \"True\"}]\n");

        var resource = Assert.Single(result.Resources);
        Assert.Equal("Ready", resource.Status!["conditions"]![0]!["type"]!.GetValue<string>());
        Assert.Contains("\"status\":{\"conditions\"", ResourceWriter.ToJson(resource), StringComparison.Ordinal);
    }
}
