using Trellis.Api.Security;
using Trellis.Api.Snapshots;
using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.Compiler;

public sealed class AuthorizationCompilerTests
{
    private static string Policy(string name, string ns, string extra) => $$"""
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: {{name}}, namespace: {{ns}} }
        spec:
        {{extra}}
        """;

    private static List<string> Selected(ProxySnapshot snapshot) =>
        snapshot.Listeners.Where(l => l.Authorization is not null).Select(l => l.Name).Order().ToList();

    [Fact]
    public void Compile_Selector_PoliciesOnTheInboundListenersOfSelectedInstances()
    {
        var snapshot = Compile(Policy("reviews-viewer", "default", "  selector: {matchLabels: {app: reviews}}\n  action: ALLOW\n  rules: [{to: [{operation: {methods: [GET]}}]}]"));

        Assert.Equal(["reviews-1/inbound", "reviews-2/inbound", "reviews-3/inbound"], Selected(snapshot));
        var policy = Assert.Single(snapshot.Listeners.Single(l => l.Name == "reviews-1/inbound").Authorization!.Policies);
        Assert.Equal(("default/reviews-viewer", AuthorizationEffect.Allow), (policy.Name, policy.Action));
        Assert.Equal(["GET"], policy.Rules[0].To[0].Operation.Methods);
    }

    [Fact]
    public void Compile_Scopes_NamespaceAndRootNamespaceApply_OtherNamespacesAndNonEnforcedDoNot_AuditKept()
    {
        var snapshot = Compile(string.Join("\n---\n",
            Policy("ns-wide", "default", "  action: DENY\n  rules: [{to: [{operation: {paths: [/admin*]}}]}]"),
            Policy("mesh-wide", "istio-system", "  action: DENY\n  rules: [{to: [{operation: {paths: [/debug*]}}]}]"),
            Policy("elsewhere", "other", "  action: DENY\n  rules: [{}]"),
            Policy("audit", "default", "  action: AUDIT\n  rules: [{}]"),
            Policy("custom", "default", "  action: CUSTOM\n  provider: {name: ext}\n  rules: [{}]"),
            Policy("attached", "default", "  targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: web}\n  rules: [{}]")));

        var inbound = snapshot.Listeners.Where(l => l.Kind == ListenerKind.Inbound).ToList();
        Assert.NotEmpty(inbound);
        Assert.All(inbound, l => Assert.Equal(["default/audit", "default/custom", "default/ns-wide", "istio-system/mesh-wide"], l.Authorization!.Policies.Select(p => p.Name).Order()));
        Assert.Equal(AuthorizationEffect.Audit, inbound[0].Authorization!.Policies.Single(p => p.Name == "default/audit").Action);
        // A CUSTOM policy whose provider the mesh config does not declare fails closed, as in Istio.
        Assert.Equal(AuthorizationEffect.Deny, inbound[0].Authorization!.Policies.Single(p => p.Name == "default/custom").Action);
        Assert.Null(inbound[0].Authorization!.ExtAuthz);
        Assert.All(snapshot.Listeners.Where(l => l.Kind == ListenerKind.Outbound), l => Assert.Null(l.Authorization));
    }

    [Fact]
    public void Compile_NoPolicy_NoAuthorization()
    {
        Assert.Empty(Selected(Compile("")));
    }

    private const string MeshWithAuthorizer = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: istio, namespace: istio-system}
        data:
          mesh: |
            extensionProviders:
            - name: ext-authz
              envoyExtAuthzHttp:
                service: ext-authz.foo.svc.cluster.local
                port: "8000"
                timeout: 2s
                pathPrefix: /check
                statusOnError: "503"
                includeRequestHeadersInCheck: [x-ext-authz]
                includeAdditionalHeadersInCheck: {x-from: trellis}
                headersToUpstreamOnAllow: [x-ext-authz-check-*]
                headersToDownstreamOnDeny: [x-ext-authz-check-result]
        """;

    [Fact]
    public void Compile_CustomWithDeclaredProvider_CustomPolicyAndItsAuthorizer_OtherProviderFailsClosed()
    {
        var snapshot = Compile(string.Join("\n---\n",
            MeshWithAuthorizer,
            Policy("ext", "default", "  selector: {matchLabels: {app: reviews}}\n  action: CUSTOM\n  provider: {name: ext-authz}\n  rules: [{to: [{operation: {paths: [/headers]}}]}]"),
            Policy("other", "default", "  selector: {matchLabels: {app: reviews}}\n  action: CUSTOM\n  provider: {name: opa}\n  rules: [{to: [{operation: {paths: [/opa]}}]}]")));

        var authorization = snapshot.Listeners.Single(l => l.Name == "reviews-1/inbound").Authorization!;
        Assert.Equal([("default/ext", AuthorizationEffect.Custom), ("default/other", AuthorizationEffect.Deny)], authorization.Policies.Select(p => (p.Name, p.Action)).Order());
        var ext = authorization.ExtAuthz!;
        Assert.Equal(("ext-authz", "ext-authz.foo.svc.cluster.local", 8000, TimeSpan.FromSeconds(2), "/check", false, 503), (ext.Provider, ext.Service, ext.Port, ext.Timeout, ext.PathPrefix, ext.FailOpen, ext.StatusOnError));
        Assert.Equal(["x-ext-authz"], ext.IncludeRequestHeadersInCheck);
        Assert.Equal("trellis", ext.IncludeAdditionalHeadersInCheck["x-from"]);
        Assert.Equal(["x-ext-authz-check-*"], ext.HeadersToUpstreamOnAllow);
        Assert.Equal(["x-ext-authz-check-result"], ext.HeadersToDownstreamOnDeny);
        Assert.Null(snapshot.Listeners.Single(l => l.Name == "productpage-1/inbound").Authorization);
    }
}
