using BenchmarkDotNet.Attributes;
using Trellis.Api.Security;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;
using Trellis.Proxy.Security;

namespace Trellis.Benchmarks;

/// <summary>
/// The inbound-policy stage's authorization decision per request (issue 12's "cost of an AuthorizationPolicy with 20
/// rules"): a policy of 20 path-and-method rules where only the last matches (the worst case: every rule is tried), a
/// DENY policy and an ALLOW policy with a header condition, and a request no rule allows.
/// </summary>
[MemoryDiagnoser]
public class AuthorizationBenchmarks
{
    private readonly AuthorizationPolicies _twenty = AuthorizationFixtures.TwentyRules();
    private readonly AuthorizationPolicies _denyAllow = AuthorizationFixtures.DenyThenAllow();
    private readonly RouteRequest _last = Fixtures.Request("reviews:9080", "/api/v19/items");
    private readonly RouteRequest _none = Fixtures.Request("reviews:9080", "/other");
    private readonly RouteRequest _header = Fixtures.Request("reviews:9080", "/reviews/0", ("end-user", "jason"));
    private readonly RequestIdentity _peer = new("cluster.local/ns/default/sa/productpage", "127.0.0.1", null);

    [Benchmark(Baseline = true)]
    public bool TwentyRulesLastMatches() => _twenty.Decide(_last, _peer).Allowed;

    [Benchmark]
    public bool TwentyRulesNoneMatches() => _twenty.Decide(_none, _peer).Allowed;

    [Benchmark]
    public bool DenyThenAllowWithHeader() => _denyAllow.Decide(_header, _peer).Allowed;
}

internal static class AuthorizationFixtures
{
    public static AuthorizationPolicies TwentyRules() => AuthorizationPolicies.Compile(new AuthorizationConfig(
    [
        new AuthorizationPolicyConfig("default/twenty", AuthorizationEffect.Allow, Enumerable.Range(0, 20).Select(i => new Rule
        {
            To = [new RuleTo { Operation = new Operation { Paths = [$"/api/v{i}/*"], Methods = ["GET", "HEAD"] } }],
        }).ToList()),
    ]));

    public static AuthorizationPolicies DenyThenAllow() => AuthorizationPolicies.Compile(new AuthorizationConfig(DenyThenAllowConfig()));

    private static List<AuthorizationPolicyConfig> DenyThenAllowConfig() =>
    [
        new AuthorizationPolicyConfig("default/deny-admin", AuthorizationEffect.Deny, [new Rule { To = [new RuleTo { Operation = new Operation { Paths = ["/admin*"] } }] }]),
        new AuthorizationPolicyConfig("default/allow", AuthorizationEffect.Allow,
        [
            new Rule
            {
                From = [new RuleFrom { Source = new Source { Principals = ["cluster.local/ns/default/sa/*"] } }],
                When = [new Condition { Key = "request.headers[end-user]", Values = ["jason", "admin*"] }],
            },
        ]),
    ];

    /// <summary>An AUDIT policy on POSTs beside the deny + allow pair: the decision is theirs, the request is marked.</summary>
    public static AuthorizationPolicies AuditDenyAllow() => AuthorizationPolicies.Compile(new AuthorizationConfig(
    [
        new AuthorizationPolicyConfig("default/audit-posts", AuthorizationEffect.Audit, [new Rule { To = [new RuleTo { Operation = new Operation { Methods = ["POST"] } }] }]),
        .. DenyThenAllowConfig(),
    ]));

    /// <summary>For the allocation budget: each decision must allocate nothing.</summary>
    public static IEnumerable<(string Name, Action Call)> Operations()
    {
        var twenty = TwentyRules();
        var denyAllow = DenyThenAllow();
        var last = Fixtures.Request("reviews:9080", "/api/v19/items");
        var header = Fixtures.Request("reviews:9080", "/reviews/0", ("end-user", "jason"));
        var audit = AuditDenyAllow();
        var post = new RouteRequest("POST", "reviews:9080", "/reviews/0", null, new Microsoft.AspNetCore.Http.HeaderDictionary { ["end-user"] = "jason" }, 15001);
        var peer = new RequestIdentity("cluster.local/ns/default/sa/productpage", "127.0.0.1", null);
        if (!twenty.Decide(last, peer).Allowed || !denyAllow.Decide(header, peer).Allowed || audit.Decide(post, peer) is not { Allowed: true, Audited: true })
        {
            throw new InvalidOperationException("the authorization fixtures no longer allow; the budget would measure the wrong work");
        }

        yield return ("authz: 20 rules, last matches", () => twenty.Decide(last, peer));
        yield return ("authz: deny + allow, header when", () => denyAllow.Decide(header, peer));
        yield return ("authz: audit + deny + allow, audited", () => audit.Decide(post, peer));
    }
}
