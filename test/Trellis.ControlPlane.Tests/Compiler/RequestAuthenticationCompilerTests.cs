using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Compiler;
using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>RequestAuthentications compiled into inbound listeners: Istio's scope rules, merged rules, keys inline or fetched.</summary>
public sealed class RequestAuthenticationCompilerTests
{
    private const string Jwks = """{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}""";

    private static string Policy(string name, string ns, string selector, string issuer, string keys) => $$"""
        apiVersion: security.istio.io/v1
        kind: RequestAuthentication
        metadata: {name: {{name}}, namespace: {{ns}} }
        spec:
          {{selector}}
          jwtRules:
          - issuer: {{issuer}}
            {{keys}}
        """;

    private static ProxySnapshot CompileWith(string yaml, IReadOnlyDictionary<string, string>? fetched = null)
    {
        var resources = TestResources.Read(yaml).ToList();
        resources.Add(TestResources.One(TestResources.ReviewsService));
        var state = State(resources, Instances());
        return SnapshotCompiler.Compile(Node, fetched is null ? state : state with { Jwks = fetched });
    }

    private static AuthenticationConfig? Of(ProxySnapshot snapshot, string listener) => snapshot.Listeners.Single(l => l.Name == listener).Authentication;

    [Theory]
    [InlineData("istio-system", "", true, true)] // the root namespace: mesh-wide
    [InlineData("default", "", true, true)] // the workload's namespace: all its workloads
    [InlineData("other", "", false, false)] // another namespace: none of them
    [InlineData("default", "selector: {matchLabels: {app: reviews}}", false, true)] // a selector narrows
    [InlineData("istio-system", "selector: {matchLabels: {app: reviews}}", false, true)]
    [InlineData("default", "targetRef: {kind: Service, name: reviews}", false, false)] // not enforced: never reaches a proxy
    public void Compile_Scope_SelectsAsIstio(string ns, string selector, bool productpage, bool reviews)
    {
        var snapshot = CompileWith(Policy("jwt", ns, selector, "https://issuer.test", $"jwks: '{Jwks}'"));

        Assert.Equal(productpage, Of(snapshot, "productpage-1/inbound") is not null);
        Assert.Equal(reviews, Of(snapshot, "reviews-1/inbound") is not null);
        Assert.All(snapshot.Listeners.Where(l => l.Kind == ListenerKind.Outbound), l => Assert.Null(l.Authentication));
    }

    [Fact]
    public void Compile_SeveralPolicies_RulesAddUpWithTheirFields()
    {
        var snapshot = CompileWith(Policy("mesh", "istio-system", "", "https://a.test", $"jwks: '{Jwks}'") + "\n---\n" + """
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: local, namespace: default}
            spec:
              selector: {matchLabels: {app: reviews}}
              jwtRules:
              - issuer: https://b.test
                audiences: [reviews]
                jwksUri: http://127.0.0.1:1/jwks
                fromHeaders: [{name: x-jwt, prefix: "Token "}]
                fromParams: [token]
                fromCookies: [session]
                forwardOriginalToken: true
                outputPayloadToHeader: x-jwt-payload
                outputClaimToHeaders: [{header: x-sub, claim: sub}]
            """);

        var providers = Of(snapshot, "reviews-1/inbound")!.Providers;
        Assert.Equal(["https://a.test", "https://b.test"], providers.Select(p => p.Issuer).Order());
        Assert.Equal(Jwks, providers.Single(p => p.Issuer == "https://a.test").Jwks);
        var b = providers.Single(p => p.Issuer == "https://b.test");
        Assert.Equal("default/local/0", b.Name);
        Assert.Equal(["reviews"], b.Audiences);
        Assert.Null(b.Jwks); // not fetched: the proxy refuses its tokens
        Assert.Equal([new JwtHeaderSource("x-jwt", "Token ")], b.FromHeaders);
        Assert.Equal(["token"], b.FromParams);
        Assert.Equal(["session"], b.FromCookies);
        Assert.True(b.ForwardOriginalToken);
        Assert.Equal("x-jwt-payload", b.OutputPayloadToHeader);
        Assert.Equal([new JwtClaimHeader("x-sub", "sub")], b.OutputClaimToHeaders);
        Assert.Single(Of(snapshot, "productpage-1/inbound")!.Providers);
    }

    [Fact]
    public void Compile_FetchedJwks_InlinedAndChangesTheVersion()
    {
        var yaml = Policy("jwt", "default", "", "https://issuer.test", "jwksUri: http://127.0.0.1:1/jwks");

        var before = CompileWith(yaml);
        var after = CompileWith(yaml, new Dictionary<string, string> { ["http://127.0.0.1:1/jwks"] = Jwks });

        Assert.Null(Of(before, "reviews-1/inbound")!.Providers.Single().Jwks);
        Assert.Equal(Jwks, Of(after, "reviews-1/inbound")!.Providers.Single().Jwks);
        Assert.NotEqual(before.Version, after.Version);
    }
}
