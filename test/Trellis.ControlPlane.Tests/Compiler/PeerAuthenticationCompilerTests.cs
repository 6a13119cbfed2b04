using Trellis.Api.Networking;
using Trellis.Api.Security;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;
using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>PeerAuthentication's inheritance as Istio composes it (mesh → namespace → workload → port; UNSET inherits; oldest wins at a scope).</summary>
public sealed class PeerAuthenticationCompilerTests
{
    private static readonly Dictionary<string, string> Reviews = new() { ["app"] = "reviews" };

    /// <summary>The Deployments of the harness's instances: their service accounts are the identities.</summary>
    private static readonly string Deployments = string.Join("\n---\n", new[] { ("productpage-v1", "bookinfo-productpage"), ("reviews-v1", "bookinfo-reviews"), ("reviews-v2", "bookinfo-reviews"), ("reviews-v3", "bookinfo-reviews") }
        .Select(d => """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: NAME, namespace: default}
            spec:
              selector: {matchLabels: {workload: NAME}}
              template:
                metadata: {labels: {workload: NAME}}
                spec:
                  serviceAccountName: ACCOUNT
                  containers: [{name: app, image: app, command: [app]}]
            """.Replace("NAME", d.Item1, StringComparison.Ordinal).Replace("ACCOUNT", d.Item2, StringComparison.Ordinal)));

    private static Scoped<PeerAuthenticationSpec> Policy(string ns, string? mode, string? selectApp = null, Dictionary<string, string?>? ports = null, string name = "p") =>
        new(name, ns, new PeerAuthenticationSpec
        {
            Selector = selectApp is null ? null : new WorkloadLabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = selectApp } },
            Mtls = mode is null ? null : new MutualTls { Mode = Enum.Parse<MutualTlsMode>(mode, ignoreCase: true) },
            PortLevelMtls = (ports ?? []).ToDictionary(p => p.Key, p => new MutualTls { Mode = p.Value is null ? null : Enum.Parse<MutualTlsMode>(p.Value, ignoreCase: true) }),
        });

    private static readonly Dictionary<string, (Scoped<PeerAuthenticationSpec>[] Policies, int Port, PeerAuthenticationMode Expected)> Table = new()
    {
        ["nothing: Istio's default"] = ([], 9080, PeerAuthenticationMode.Permissive),
        ["mesh STRICT"] = ([Policy("istio-system", "STRICT")], 9080, PeerAuthenticationMode.Strict),
        ["mesh UNSET"] = ([Policy("istio-system", "UNSET")], 9080, PeerAuthenticationMode.Permissive),
        ["mesh STRICT, namespace DISABLE"] = ([Policy("istio-system", "STRICT"), Policy("default", "DISABLE")], 9080, PeerAuthenticationMode.Disable),
        ["mesh STRICT, namespace UNSET inherits"] = ([Policy("istio-system", "STRICT"), Policy("default", "UNSET")], 9080, PeerAuthenticationMode.Strict),
        ["mesh STRICT, namespace without mtls inherits"] = ([Policy("istio-system", "STRICT"), Policy("default", null)], 9080, PeerAuthenticationMode.Strict),
        ["other namespace's policy does not apply"] = ([Policy("other", "DISABLE")], 9080, PeerAuthenticationMode.Permissive),
        ["workload overrides namespace"] = ([Policy("default", "STRICT"), Policy("default", "PERMISSIVE", selectApp: "reviews")], 9080, PeerAuthenticationMode.Permissive),
        ["workload UNSET inherits namespace"] = ([Policy("default", "STRICT"), Policy("default", "UNSET", selectApp: "reviews")], 9080, PeerAuthenticationMode.Strict),
        ["selector of another workload"] = ([Policy("default", "DISABLE", selectApp: "ratings")], 9080, PeerAuthenticationMode.Permissive),
        ["port-level on the workload's port"] = ([Policy("default", "STRICT", selectApp: "reviews", ports: new() { ["9080"] = "DISABLE" })], 9080, PeerAuthenticationMode.Disable),
        ["port-level of another port"] = ([Policy("default", "STRICT", selectApp: "reviews", ports: new() { ["8080"] = "DISABLE" })], 9080, PeerAuthenticationMode.Strict),
        ["port-level UNSET takes the workload's mode"] = ([Policy("istio-system", "DISABLE"), Policy("default", "STRICT", selectApp: "reviews", ports: new() { ["9080"] = "UNSET" })], 9080, PeerAuthenticationMode.Strict),
        ["port-level UNSET, workload UNSET: the namespace's"] = ([Policy("default", "STRICT"), Policy("default", null, selectApp: "reviews", ports: new() { ["9080"] = null })], 9080, PeerAuthenticationMode.Strict),
        ["port-level only on workload policies"] = ([Policy("default", "STRICT", ports: new() { ["9080"] = "DISABLE" })], 9080, PeerAuthenticationMode.Strict),
        ["root-namespace selector policy is ignored"] = ([Policy("istio-system", "DISABLE", selectApp: "reviews")], 9080, PeerAuthenticationMode.Permissive),
        ["oldest namespace policy wins"] = ([Policy("default", "STRICT", name: "old"), Policy("default", "DISABLE", name: "new")], 9080, PeerAuthenticationMode.Strict),
        ["oldest workload policy wins"] = ([Policy("default", "DISABLE", selectApp: "reviews", name: "old"), Policy("default", "STRICT", selectApp: "reviews", name: "new")], 9080, PeerAuthenticationMode.Disable),
    };

    public static TheoryData<string> Cases() => new(Table.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ModeFor_InheritanceTable_AsIstio(string name)
    {
        var (policies, port, expected) = Table[name];
        Assert.Equal(expected, PeerAuthentications.ModeFor(policies, "default", Reviews, port));
    }

    [Fact]
    public void Compile_Strict_InboundListenersPresentTheirServiceAccountAndAreStrict()
    {
        var snapshot = Compile(Deployments + """

            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: istio-system}
            spec: {mtls: {mode: STRICT}}
            """);

        var inbound = snapshot.Listeners.Where(l => l.Kind == ListenerKind.Inbound).ToList();
        Assert.NotEmpty(inbound);
        Assert.All(inbound, l => Assert.Equal(PeerAuthenticationMode.Strict, l.Mtls));
        Assert.Equal("spiffe://cluster.local/ns/default/sa/bookinfo-reviews", inbound.Single(l => l.Name == "reviews-2/inbound").Identity);
        Assert.Equal("spiffe://cluster.local/ns/default/sa/bookinfo-productpage", inbound.Single(l => l.Name == "productpage-1/inbound").Identity);
        Assert.All(snapshot.Listeners.Where(l => l.Kind == ListenerKind.Outbound), l => Assert.NotNull(l.Identity));
    }

    [Fact]
    public void Compile_SecureNaming_ClusterNamesTheServiceAccountsOfItsWorkloads_EndpointsAcceptMtls()
    {
        var snapshot = Compile(Deployments);

        var reviews = Cluster(snapshot, subset: null);
        Assert.Equal(ClusterTlsMode.Auto, reviews.Tls!.Mode);
        Assert.Equal(["spiffe://cluster.local/ns/default/sa/bookinfo-reviews"], reviews.Tls.PeerIdentities);
        Assert.Equal(3, reviews.Endpoints.Count);
        Assert.All(reviews.Endpoints, e => Assert.True(e.Mtls));
    }

    [Fact]
    public void Compile_NamespaceDisable_EndpointsSpeakCleartext_DestinationRuleModesHonoured()
    {
        var snapshot = Compile(Deployments + """

            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: default}
            spec: {mtls: {mode: DISABLE}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews, namespace: default}
            spec: {host: reviews, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}
            """, withRule: false);

        Assert.All(snapshot.Listeners.Where(l => l.Kind == ListenerKind.Inbound), l => Assert.Equal(PeerAuthenticationMode.Disable, l.Mtls));
        var reviews = Cluster(snapshot, subset: null);
        Assert.All(reviews.Endpoints, e => Assert.False(e.Mtls));
        Assert.Equal(ClusterTlsMode.IstioMutual, reviews.Tls!.Mode);
    }

    [Fact]
    public void Compile_Gateway_ListenersCallAsIstiosIngressGatewayAccount()
    {
        var snapshot = Compile(Deployments + """

            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: ingress, namespace: default}
            spec:
              selector: {istio: ingressgateway}
              servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}]
            """, proxy: Gateway);

        var listener = Assert.Single(snapshot.Listeners);
        Assert.Equal("spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account", listener.Identity);
    }

    [Fact]
    public void Compile_GatewayIstioMutualServers_PortTakesMeshMtlsOnly_MixedWithSimpleNotServed()
    {
        var snapshot = Compile(Deployments + """

            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: east-west, namespace: default}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - {port: {number: 15443, name: tls, protocol: HTTPS}, hosts: ["*.local"], tls: {mode: ISTIO_MUTUAL}}
              - {port: {number: 8443, name: tls-a, protocol: HTTPS}, hosts: ["a.example"], tls: {mode: ISTIO_MUTUAL}}
              - {port: {number: 8443, name: tls-b, protocol: HTTPS}, hosts: ["b.example"], tls: {mode: SIMPLE, credentialName: missing}}
            """, proxy: Gateway);

        var listener = Assert.Single(snapshot.Listeners);
        Assert.Equal((15443, PeerAuthenticationMode.Strict, null), (listener.Port, listener.Mtls, listener.Tls));
        Assert.Equal("spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account", listener.Identity);
    }

    [Fact]
    public void Compile_IstioMutualWithSubjectAltNamesAndSni_ReplaceSecureNaming()
    {
        var snapshot = Compile(Deployments + """

            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec:
              host: reviews
              trafficPolicy: {tls: {mode: ISTIO_MUTUAL, sni: reviews.default.svc.cluster.local, subjectAltNames: ["spiffe://cluster.local/ns/default/sa/reviews-canary"]}}
            """, withRule: false);

        var tls = Cluster(snapshot, subset: null).Tls!;
        Assert.Equal(ClusterTlsMode.IstioMutual, tls.Mode);
        Assert.Equal(["spiffe://cluster.local/ns/default/sa/reviews-canary"], tls.PeerIdentities);
        Assert.Equal("reviews.default.svc.cluster.local", tls.Sni);
    }

    [Theory]
    [InlineData(ClientTlsMode.IstioMutual, ClusterTlsMode.IstioMutual)]
    [InlineData(ClientTlsMode.Disable, ClusterTlsMode.Disable)]
    [InlineData(ClientTlsMode.Simple, ClusterTlsMode.Auto)]
    [InlineData(null, ClusterTlsMode.Auto)]
    public void TlsMode_DestinationRule_ToClusterMode(ClientTlsMode? mode, ClusterTlsMode expected)
    {
        Assert.Equal(expected, ClusterSet.TlsMode(mode));
    }
}
