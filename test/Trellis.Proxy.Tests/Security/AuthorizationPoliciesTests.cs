using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Trellis.Api;
using Trellis.Api.Security;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Security;

namespace Trellis.Proxy.Tests.Security;

/// <summary>Istio's AuthorizationPolicy semantics as tables: policies in YAML as users write them, requests in, decisions out.</summary>
public sealed class AuthorizationPoliciesTests
{
    /// <summary>A request: method, authority, path, headers ("k: v; k2: v2"), client address, peer principal, JWT user.</summary>
    public sealed record Call(string Method = "GET", string Authority = "reviews:9080", string Path = "/reviews/1", string Headers = "", string Client = "10.1.2.3", string Principal = "", string? User = null, string? Claims = null);

    private static AuthorizationPolicies Compile(params (string Name, string Yaml)[] policies)
    {
        var configs = policies.Select(p =>
        {
            var spec = Spec(p.Yaml);
            var effect = spec.Action switch { AuthorizationAction.Deny => AuthorizationEffect.Deny, AuthorizationAction.Audit => AuthorizationEffect.Audit, _ => AuthorizationEffect.Allow };
            return new AuthorizationPolicyConfig(p.Name, effect, spec.Rules);
        }).ToList();
        return AuthorizationPolicies.Compile(new AuthorizationConfig(configs));
    }

    private static AuthorizationPolicySpec Spec(string yaml)
    {
        var text = $"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: p, namespace: default}}\nspec:\n{string.Join('\n', yaml.Split('\n').Select(l => "  " + l))}\n";
        var result = ResourceReader.Read(text, "p.yaml");
        Assert.True(result.Resources.Count == 1, string.Join("; ", result.Diagnostics.Select(d => d.Message)));
        return (AuthorizationPolicySpec)result.Resources[0].Spec!;
    }

    private static AuthorizationDecision Decide(AuthorizationPolicies policies, Call call)
    {
        var headers = new HeaderDictionary();
        foreach (var pair in call.Headers.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = pair.IndexOf(':');
            headers[pair[..colon].Trim()] = pair[(colon + 1)..].Trim();
        }

        var query = call.Path.IndexOf('?');
        var request = new RouteRequest(call.Method, call.Authority, query < 0 ? call.Path : call.Path[..query], query < 0 ? null : call.Path[query..], headers, 15001);
        var user = call.User is null ? null : new JwtIdentity(call.User, ["bookinfo"], "", JsonDocument.Parse(call.Claims ?? "{}").RootElement);
        return policies.Decide(request, new RequestIdentity(call.Principal, call.Client, user));
    }

    public static TheoryData<string, string, Call, bool> SinglePolicy => new()
    {
        // The empty-policy and empty-rule rules.
        { "ALLOW without rules allows nothing", "action: ALLOW", new Call(), false },
        { "ALLOW with {} allows everything", "action: ALLOW\nrules: [{}]", new Call(), true },
        { "DENY without rules denies nothing", "action: DENY", new Call(), true },
        { "DENY with {} denies everything", "action: DENY\nrules: [{}]", new Call(), false },
        { "no action means ALLOW", "rules: [{to: [{operation: {methods: [GET]}}]}]", new Call(Method: "POST"), false },

        // to: methods, paths (exact, prefix*, *suffix, *), hosts (with or without port), ports.
        { "method matches", "rules: [{to: [{operation: {methods: [GET, HEAD]}}]}]", new Call(Method: "HEAD"), true },
        { "notMethods", "rules: [{to: [{operation: {notMethods: [DELETE]}}]}]", new Call(Method: "DELETE"), false },
        { "exact path", "rules: [{to: [{operation: {paths: [/reviews/1]}}]}]", new Call(Path: "/reviews/1?x=1"), true },
        { "exact path, other path", "rules: [{to: [{operation: {paths: [/reviews/1]}}]}]", new Call(Path: "/reviews/10"), false },
        { "prefix path", "rules: [{to: [{operation: {paths: [/reviews/*]}}]}]", new Call(Path: "/reviews/7"), true },
        { "suffix path", "rules: [{to: [{operation: {paths: ['*.css']}}]}]", new Call(Path: "/static/site.css"), true },
        { "suffix path, other", "rules: [{to: [{operation: {paths: ['*.css']}}]}]", new Call(Path: "/static/site.js"), false },
        { "notPaths", "rules: [{to: [{operation: {notPaths: [/admin*]}}]}]", new Call(Path: "/admin/x"), false },
        { "host without port", "rules: [{to: [{operation: {hosts: [reviews]}}]}]", new Call(Authority: "reviews:9080"), true },
        { "host case-insensitive", "rules: [{to: [{operation: {hosts: [Reviews]}}]}]", new Call(Authority: "reviews"), true },
        { "host suffix", "rules: [{to: [{operation: {hosts: ['*.example.com']}}]}]", new Call(Authority: "api.example.com"), true },
        { "other host", "rules: [{to: [{operation: {hosts: [ratings]}}]}]", new Call(), false },
        { "port", "rules: [{to: [{operation: {ports: ['9080']}}]}]", new Call(Authority: "reviews:9080"), true },
        { "other port", "rules: [{to: [{operation: {ports: ['8080']}}]}]", new Call(Authority: "reviews:9080"), false },
        { "all fields of an operation must match", "rules: [{to: [{operation: {methods: [GET], paths: [/ratings*]}}]}]", new Call(), false },
        { "any operation may match", "rules: [{to: [{operation: {paths: [/ratings*]}}, {operation: {methods: [GET]}}]}]", new Call(), true },

        // from: principals, namespaces, ipBlocks, requestPrincipals.
        { "principal", "rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/productpage]}}]}]", new Call(Principal: "cluster.local/ns/default/sa/productpage"), true },
        { "other principal", "rules: [{from: [{source: {principals: [cluster.local/ns/default/sa/productpage]}}]}]", new Call(Principal: "cluster.local/ns/default/sa/ratings"), false },
        { "cleartext peer has no principal", "rules: [{from: [{source: {principals: ['*']}}]}]", new Call(Principal: ""), false },
        { "any principal", "rules: [{from: [{source: {principals: ['*']}}]}]", new Call(Principal: "cluster.local/ns/x/sa/y"), true },
        { "principal prefix", "rules: [{from: [{source: {principals: ['cluster.local/ns/default/*']}}]}]", new Call(Principal: "cluster.local/ns/default/sa/a"), true },
        { "namespace from the principal", "rules: [{from: [{source: {namespaces: [prod]}}]}]", new Call(Principal: "cluster.local/ns/prod/sa/a"), true },
        { "notNamespaces", "rules: [{from: [{source: {notNamespaces: [prod]}}]}]", new Call(Principal: "cluster.local/ns/prod/sa/a"), false },
        { "ipBlocks CIDR", "rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}]", new Call(Client: "10.9.9.9"), true },
        { "ipBlocks outside", "rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}]", new Call(Client: "192.168.1.1"), false },
        { "ipBlocks host bits ignored", "rules: [{from: [{source: {ipBlocks: [10.1.2.3/8]}}]}]", new Call(Client: "10.200.0.1"), true },
        { "ipBlocks v4-mapped v6 client", "rules: [{from: [{source: {ipBlocks: [127.0.0.1]}}]}]", new Call(Client: "::ffff:127.0.0.1"), true },
        { "notIpBlocks", "rules: [{from: [{source: {notIpBlocks: [127.0.0.0/8]}}]}]", new Call(Client: "127.0.0.1"), false },
        { "remoteIpBlocks", "rules: [{from: [{source: {remoteIpBlocks: [10.0.0.0/8]}}]}]", new Call(Client: "10.0.0.1"), true },
        { "requestPrincipals needs a token", "rules: [{from: [{source: {requestPrincipals: ['*']}}]}]", new Call(), false },
        { "requestPrincipals with a token", "rules: [{from: [{source: {requestPrincipals: ['https://issuer/*']}}]}]", new Call(User: "https://issuer/alice"), true },
        { "all fields of a source must match", "rules: [{from: [{source: {namespaces: [prod], ipBlocks: [10.0.0.0/8]}}]}]", new Call(Principal: "cluster.local/ns/prod/sa/a", Client: "192.168.0.1"), false },

        // when: headers, source.ip, destination.port, request.auth.*.
        { "header value", "rules: [{when: [{key: 'request.headers[version]', values: [v1, v2]}]}]", new Call(Headers: "version: v2"), true },
        { "header prefix", "rules: [{when: [{key: 'request.headers[user-agent]', values: ['curl/*']}]}]", new Call(Headers: "user-agent: curl/8.0"), true },
        { "header missing", "rules: [{when: [{key: 'request.headers[version]', values: [v1]}]}]", new Call(), false },
        { "header notValues, missing header passes", "rules: [{when: [{key: 'request.headers[version]', notValues: [v1]}]}]", new Call(), true },
        { "header notValues", "rules: [{when: [{key: 'request.headers[version]', notValues: [v1]}]}]", new Call(Headers: "version: v1"), false },
        { "source.ip", "rules: [{when: [{key: source.ip, values: [10.0.0.0/8]}]}]", new Call(Client: "10.1.1.1"), true },
        { "destination.port", "rules: [{when: [{key: destination.port, values: ['9080']}]}]", new Call(), true },
        { "request.auth.principal", "rules: [{when: [{key: request.auth.principal, values: [iss/alice]}]}]", new Call(User: "iss/alice"), true },
        { "request.auth.audiences", "rules: [{when: [{key: request.auth.audiences, values: [bookinfo]}]}]", new Call(User: "iss/alice"), true },
        { "request.auth.claims string", "rules: [{when: [{key: 'request.auth.claims[group]', values: [admins]}]}]", new Call(User: "iss/a", Claims: "{\"group\":\"admins\"}"), true },
        { "request.auth.claims array", "rules: [{when: [{key: 'request.auth.claims[groups]', values: [admins]}]}]", new Call(User: "iss/a", Claims: "{\"groups\":[\"dev\",\"admins\"]}"), true },
        { "request.auth.claims nested", "rules: [{when: [{key: 'request.auth.claims[realm][role]', values: [x]}]}]", new Call(User: "iss/a", Claims: "{\"realm\":{\"role\":\"x\"}}"), true },
        { "request.auth.claims without token", "rules: [{when: [{key: 'request.auth.claims[group]', values: [admins]}]}]", new Call(), false },
        { "every condition must hold", "rules: [{when: [{key: 'request.headers[a]', values: ['1']}, {key: 'request.headers[b]', values: ['2']}]}]", new Call(Headers: "a: 1"), false },
    };

    [Theory]
    [MemberData(nameof(SinglePolicy))]
    public void Decide_OnePolicy(string scenario, string yaml, Call call, bool allowed)
    {
        Assert.True(Decide(Compile(("default/p", yaml)), call).Allowed == allowed, scenario);
    }

    [Fact]
    public void Decide_DenyBeforeAllow_AndNoAllowPolicyAllows()
    {
        var both = Compile(
            ("default/allow-get", "action: ALLOW\nrules: [{to: [{operation: {methods: [GET]}}]}]"),
            ("default/deny-admin", "action: DENY\nrules: [{to: [{operation: {paths: [/admin*]}}]}]"));
        var denyOnly = Compile(("default/deny-admin", "action: DENY\nrules: [{to: [{operation: {paths: [/admin*]}}]}]"));

        Assert.Equal(new AuthorizationDecision(false, "default/deny-admin"), Decide(both, new Call(Path: "/admin/x")));
        Assert.Equal(new AuthorizationDecision(true, "default/allow-get"), Decide(both, new Call()));
        Assert.Equal(new AuthorizationDecision(false, null), Decide(both, new Call(Method: "POST")));
        Assert.True(Decide(denyOnly, new Call(Method: "POST")).Allowed);
        Assert.False(Decide(denyOnly, new Call(Path: "/admin")).Allowed);
    }

    [Fact]
    public void Decide_TwentyRules_OnlyTheLastMatches()
    {
        var rules = string.Join(", ", Enumerable.Range(0, 20).Select(i => $"{{to: [{{operation: {{paths: [/api/v{i}/*], methods: [GET]}}}}]}}"));
        var policies = Compile(("default/twenty", $"rules: [{rules}]"));

        Assert.True(Decide(policies, new Call(Path: "/api/v19/items")).Allowed);
        Assert.False(Decide(policies, new Call(Path: "/api/v20/items")).Allowed);
    }

    private const string AuditPosts = "action: AUDIT\nrules: [{to: [{operation: {methods: [POST]}}]}]";

    /// <summary>Istio's AUDIT: the decision is DENY's and ALLOW's alone; a request an AUDIT rule matches is marked.</summary>
    public static TheoryData<string, string[], Call, (bool Allowed, string? Policy, bool Audited)> AuditCases => new()
    {
        { "AUDIT alone, matching: allowed and audited", [AuditPosts], new Call(Method: "POST"), (true, null, true) },
        { "AUDIT alone, not matching: allowed, not audited", [AuditPosts], new Call(), (true, null, false) },
        { "AUDIT without rules audits nothing", ["action: AUDIT"], new Call(), (true, null, false) },
        { "AUDIT {} audits everything", ["action: AUDIT\nrules: [{}]"], new Call(), (true, null, true) },
        { "an AUDIT policy is not an ALLOW policy", [AuditPosts, "action: ALLOW\nrules: [{to: [{operation: {methods: [GET]}}]}]"], new Call(Method: "POST"), (false, null, true) },
        { "denied and audited", [AuditPosts, "action: DENY\nrules: [{}]"], new Call(Method: "POST"), (false, "default/p1", true) },
        { "allowed by ALLOW and audited", [AuditPosts, "action: ALLOW\nrules: [{}]"], new Call(Method: "POST"), (true, "default/p1", true) },
    };

    [Theory]
    [MemberData(nameof(AuditCases))]
    public void Decide_Audit_NeverChangesTheDecision(string scenario, string[] yaml, Call call, (bool Allowed, string? Policy, bool Audited) expected)
    {
        var policies = Compile([.. yaml.Select((y, i) => ($"default/p{i}", y))]);

        Assert.True(new AuthorizationDecision(expected.Allowed, expected.Policy, expected.Audited) == Decide(policies, call), $"{scenario}: {Decide(policies, call)}");
    }

    [Fact]
    public void CompileForTcp_AuditPolicies_LeftOut()
    {
        var config = new AuthorizationConfig([new AuthorizationPolicyConfig("default/audit", AuthorizationEffect.Audit, [new Rule()])]);

        var decision = AuthorizationPolicies.CompileForTcp(config).Decide(new RouteRequest("", "", "", null, new HeaderDictionary(), 9000), new RequestIdentity("", "10.0.0.1", null));

        Assert.Equal(new AuthorizationDecision(true, null, false), decision);
    }
}
