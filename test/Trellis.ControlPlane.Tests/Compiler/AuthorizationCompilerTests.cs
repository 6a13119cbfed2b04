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
        Assert.All(inbound, l => Assert.Equal(["default/audit", "default/ns-wide", "istio-system/mesh-wide"], l.Authorization!.Policies.Select(p => p.Name).Order()));
        Assert.Equal(AuthorizationEffect.Audit, inbound[0].Authorization!.Policies.Single(p => p.Name == "default/audit").Action);
        Assert.All(snapshot.Listeners.Where(l => l.Kind == ListenerKind.Outbound), l => Assert.Null(l.Authorization));
    }

    [Fact]
    public void Compile_NoPolicy_NoAuthorization()
    {
        Assert.Empty(Selected(Compile("")));
    }
}
