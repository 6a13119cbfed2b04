using System.Net;
using Trellis.Api.Security;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Security;

/// <summary>
/// The outcome of authorization: allowed or not, the policy that decided (null when no policy matched), and whether an
/// AUDIT policy matched the request (whatever the decision).
/// </summary>
internal readonly record struct AuthorizationDecision(bool Allowed, string? Policy, bool Audited = false);

/// <summary>
/// The AuthorizationPolicies of one workload, compiled into matchers (Envoy's RBAC filters, one DENY and one ALLOW),
/// evaluated in Istio's order: any matching DENY policy refuses; then, if there are ALLOW policies, one must match;
/// with none, the request is allowed. A policy matches when any of its rules does (so an ALLOW policy without rules
/// allows nothing); a rule matches when any <c>from</c>, any <c>to</c> and every <c>when</c> match (so a rule
/// <c>{}</c> matches everything). Within a source or operation every field set must match, a field when any of its
/// values does and none of its <c>not</c> values does. AUDIT policies (Envoy's RBAC filter with action LOG) never
/// change the decision: a request any of them matches is marked audited.
/// </summary>
internal sealed class AuthorizationPolicies
{
    private readonly Policy[] _deny;
    private readonly Policy[] _allow;
    private readonly Policy[] _audit;
    private readonly Policy[] _custom;

    private AuthorizationPolicies(Policy[] deny, Policy[] allow, Policy[] audit, Policy[] custom)
    {
        _deny = deny;
        _allow = allow;
        _audit = audit;
        _custom = custom;
    }

    /// <summary>Whether any rule looks at the end user (then the JWT stage must run first).</summary>
    public bool NeedsUser { get; private init; }

    public static AuthorizationPolicies Compile(AuthorizationConfig config)
    {
        var deny = config.Policies.Where(p => p.Action == AuthorizationEffect.Deny).Select(Policy.Compile).ToArray();
        var allow = config.Policies.Where(p => p.Action == AuthorizationEffect.Allow).Select(Policy.Compile).ToArray();
        var audit = config.Policies.Where(p => p.Action == AuthorizationEffect.Audit).Select(Policy.Compile).ToArray();
        var custom = config.Policies.Where(p => p.Action == AuthorizationEffect.Custom).Select(Policy.Compile).ToArray();
        return new AuthorizationPolicies(deny, allow, audit, custom) { NeedsUser = config.Policies.Any(UsesUser) };
    }

    /// <summary>
    /// The policies as Istio applies them to a TCP connection, which has no HTTP request: a rule of an ALLOW policy that
    /// names an HTTP-only field (<c>hosts</c>, <c>methods</c>, <c>paths</c>, <c>requestPrincipals</c>,
    /// <c>request.*</c> conditions, and their <c>not</c> forms) matches nothing; in a DENY policy those fields are dropped
    /// and the rest of the rule still applies (Istio's "more restrictive" reading: a DENY for GET on port 9000 denies every
    /// connection to 9000). Both err towards refusing. AUDIT policies are left out (a connection has no access-log entry
    /// to mark), and so are CUSTOM ones (an HTTP authorizer checks HTTP requests).
    /// </summary>
    public static AuthorizationPolicies CompileForTcp(AuthorizationConfig config) => Compile(new AuthorizationConfig(
        config.Policies.Where(p => p.Action is AuthorizationEffect.Allow or AuthorizationEffect.Deny).Select(p => p with
        {
            Rules = p.Action == AuthorizationEffect.Allow ? p.Rules.Where(r => !HttpOnly(r)).ToList() : p.Rules.Select(WithoutHttpFields).ToList(),
        }).ToList()));

    private static bool HttpOnly(Trellis.Api.Security.Rule rule) =>
        rule.From.Any(f => f.Source.RequestPrincipals.Count > 0 || f.Source.NotRequestPrincipals.Count > 0)
        || rule.To.Any(t => t.Operation is { Hosts.Count: > 0 } or { NotHosts.Count: > 0 } or { Methods.Count: > 0 } or { NotMethods.Count: > 0 } or { Paths.Count: > 0 } or { NotPaths.Count: > 0 })
        || rule.When.Any(HttpOnly);

    private static bool HttpOnly(Trellis.Api.Security.Condition condition) => condition.Key.StartsWith("request.", StringComparison.Ordinal);

    private static Trellis.Api.Security.Rule WithoutHttpFields(Trellis.Api.Security.Rule rule) => rule with
    {
        From = rule.From.Select(f => f with { Source = f.Source with { RequestPrincipals = [], NotRequestPrincipals = [] } }).ToList(),
        To = rule.To.Select(t => t with { Operation = t.Operation with { Hosts = [], NotHosts = [], Methods = [], NotMethods = [], Paths = [], NotPaths = [] } }).ToList(),
        When = rule.When.Where(c => !HttpOnly(c)).ToList(),
    };

    public AuthorizationDecision Decide(in RouteRequest request, in RequestIdentity identity)
    {
        var audited = _audit.Length > 0 && Any(_audit, request, identity) is not null;
        if (Any(_deny, request, identity) is { } denied)
        {
            return new AuthorizationDecision(false, denied, audited);
        }

        if (_allow.Length == 0)
        {
            return new AuthorizationDecision(true, null, audited);
        }

        return Any(_allow, request, identity) is { } allowed
            ? new AuthorizationDecision(true, allowed, audited)
            : new AuthorizationDecision(false, null, audited);
    }

    /// <summary>Whether a CUSTOM policy's rules match: then the external authorizer is asked first (Istio's order CUSTOM, DENY, ALLOW).</summary>
    public bool MatchesCustom(in RouteRequest request, in RequestIdentity identity) => _custom.Length > 0 && Any(_custom, request, identity) is not null;

    /// <summary>The name of the first of <paramref name="policies"/> that matches; null when none does.</summary>
    private static string? Any(Policy[] policies, in RouteRequest request, in RequestIdentity identity)
    {
        foreach (var policy in policies)
        {
            if (policy.Matches(request, identity))
            {
                return policy.Name;
            }
        }

        return null;
    }

    private static bool UsesUser(AuthorizationPolicyConfig policy) => policy.Rules.Any(r =>
        r.From.Any(f => f.Source.RequestPrincipals.Count > 0 || f.Source.NotRequestPrincipals.Count > 0)
        || r.When.Any(w => w.Key.StartsWith("request.auth.", StringComparison.Ordinal)));

    private sealed class Policy(string name, Rule[] rules)
    {
        public string Name { get; } = name;

        public static Policy Compile(AuthorizationPolicyConfig config) => new(config.Name, config.Rules.Select(Rule.Compile).ToArray());

        public bool Matches(in RouteRequest request, in RequestIdentity identity)
        {
            foreach (var rule in rules)
            {
                if (rule.Matches(request, identity))
                {
                    return true;
                }
            }

            return false;
        }
    }

    private sealed class Rule(Source[] from, Operation[] to, Condition[] when)
    {
        public static Rule Compile(Trellis.Api.Security.Rule rule) => new(
            rule.From.Select(f => Source.Compile(f.Source)).ToArray(),
            rule.To.Select(t => Operation.Compile(t.Operation)).ToArray(),
            rule.When.Select(Condition.Compile).ToArray());

        public bool Matches(in RouteRequest request, in RequestIdentity identity)
        {
            if (from.Length > 0 && !AnySource(identity))
            {
                return false;
            }

            if (to.Length > 0 && !AnyOperation(request))
            {
                return false;
            }

            foreach (var condition in when)
            {
                if (!condition.Matches(request, identity))
                {
                    return false;
                }
            }

            return true;
        }

        private bool AnySource(in RequestIdentity identity)
        {
            foreach (var source in from)
            {
                if (source.Matches(identity))
                {
                    return true;
                }
            }

            return false;
        }

        private bool AnyOperation(in RouteRequest request)
        {
            foreach (var operation in to)
            {
                if (operation.Matches(request))
                {
                    return true;
                }
            }

            return false;
        }
    }

    private sealed class Source
    {
        private StringPattern[] _principals = [], _notPrincipals = [], _requestPrincipals = [], _notRequestPrincipals = [], _namespaces = [], _notNamespaces = [];
        private IpBlock[] _ipBlocks = [], _notIpBlocks = [];

        public static Source Compile(Trellis.Api.Security.Source s) => new()
        {
            _principals = StringPattern.All(s.Principals),
            _notPrincipals = StringPattern.All(s.NotPrincipals),
            _requestPrincipals = StringPattern.All(s.RequestPrincipals),
            _notRequestPrincipals = StringPattern.All(s.NotRequestPrincipals),
            _namespaces = StringPattern.All(s.Namespaces),
            _notNamespaces = StringPattern.All(s.NotNamespaces),
            // remoteIpBlocks: the original client is the peer itself here (no trusted proxies in front: Envoy's
            // default num_trusted_hops 0), so both lists read the connection's address.
            _ipBlocks = Blocks(s.IpBlocks.Concat(s.RemoteIpBlocks)),
            _notIpBlocks = Blocks(s.NotIpBlocks.Concat(s.NotRemoteIpBlocks)),
        };

        public bool Matches(in RequestIdentity identity)
        {
            if (!StringPattern.Field(_principals, _notPrincipals, identity.Principal)
                || !StringPattern.Field(_namespaces, _notNamespaces, identity.Namespace)
                || !StringPattern.Field(_requestPrincipals, _notRequestPrincipals, identity.User?.Principal ?? ""))
            {
                return false;
            }

            if (_ipBlocks.Length == 0 && _notIpBlocks.Length == 0)
            {
                return true;
            }

            var address = identity.Address;
            return (_ipBlocks.Length == 0 || (address is not null && AnyBlock(_ipBlocks, address)))
                && (_notIpBlocks.Length == 0 || address is null || !AnyBlock(_notIpBlocks, address));
        }
    }

    private sealed class Operation
    {
        private StringPattern[] _hosts = [], _notHosts = [], _methods = [], _notMethods = [], _paths = [], _notPaths = [];
        private int[] _ports = [], _notPorts = [];

        public static Operation Compile(Trellis.Api.Security.Operation o) => new()
        {
            _hosts = StringPattern.All(o.Hosts, ignoreCase: true),
            _notHosts = StringPattern.All(o.NotHosts, ignoreCase: true),
            _methods = StringPattern.All(o.Methods),
            _notMethods = StringPattern.All(o.NotMethods),
            _paths = StringPattern.All(o.Paths),
            _notPaths = StringPattern.All(o.NotPaths),
            _ports = Ports(o.Ports),
            _notPorts = Ports(o.NotPorts),
        };

        public bool Matches(in RouteRequest request)
        {
            var port = request.Port;
            return StringPattern.Field(_methods, _notMethods, request.Method)
                && StringPattern.Field(_paths, _notPaths, request.Path)
                && (_ports.Length == 0 || Array.IndexOf(_ports, port) >= 0)
                && (_notPorts.Length == 0 || Array.IndexOf(_notPorts, port) < 0)
                && HostField(request);
        }

        /// <summary>A host value matches the authority with or without its port (Istio matches both forms).</summary>
        private bool HostField(in RouteRequest request)
        {
            if (_hosts.Length == 0 && _notHosts.Length == 0)
            {
                return true;
            }

            var full = request.Authority.AsSpan();
            var bare = request.Host;
            return (_hosts.Length == 0 || StringPattern.Any(_hosts, full) || StringPattern.Any(_hosts, bare))
                && (_notHosts.Length == 0 || !(StringPattern.Any(_notHosts, full) || StringPattern.Any(_notHosts, bare)));
        }
    }

    private sealed class Condition
    {
        private string _key = "";
        private string _header = "";
        private List<string> _claim = [];
        private StringPattern[] _values = [], _notValues = [];
        private IpBlock[] _blocks = [], _notBlocks = [];

        public static Condition Compile(Trellis.Api.Security.Condition c)
        {
            var condition = new Condition
            {
                _key = c.Key,
                _values = StringPattern.All(c.Values),
                _notValues = StringPattern.All(c.NotValues),
            };
            if (c.Key.StartsWith(ConditionKeys.HeaderPrefix, StringComparison.Ordinal))
            {
                condition._header = ConditionKeys.Header(c.Key);
            }
            else if (c.Key.StartsWith(ConditionKeys.ClaimPrefix, StringComparison.Ordinal))
            {
                condition._claim = ConditionKeys.Claims(c.Key) ?? [];
            }
            else if (c.Key is ConditionKeys.SourceIp or ConditionKeys.RemoteIp or ConditionKeys.DestinationIp)
            {
                condition._blocks = Blocks(c.Values);
                condition._notBlocks = Blocks(c.NotValues);
            }

            return condition;
        }

        public bool Matches(in RouteRequest request, in RequestIdentity identity)
        {
            if (_header.Length > 0)
            {
                // A missing header matches no value, and so passes every notValue (Envoy's inverted header matcher).
                return request.TryGetHeader(_header, out var value)
                    ? StringPattern.Field(_values, _notValues, value)
                    : _values.Length == 0;
            }

            if (_claim.Count > 0 || _key == ConditionKeys.AuthAudiences)
            {
                var values = _key == ConditionKeys.AuthAudiences ? identity.User?.Audiences ?? [] : identity.User?.Claim(_claim) ?? [];
                var any = false;
                var anyNot = false;
                foreach (var v in values)
                {
                    any |= StringPattern.Any(_values, v);
                    anyNot |= StringPattern.Any(_notValues, v);
                }

                return (_values.Length == 0 || any) && !anyNot;
            }

            switch (_key)
            {
                case ConditionKeys.SourceIp or ConditionKeys.RemoteIp:
                    var address = identity.Address;
                    return (_blocks.Length == 0 || (address is not null && AnyBlock(_blocks, address)))
                        && (_notBlocks.Length == 0 || address is null || !AnyBlock(_notBlocks, address));
                case ConditionKeys.DestinationPort:
                    return StringPattern.Field(_values, _notValues, request.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
                case ConditionKeys.SourcePrincipal:
                    return StringPattern.Field(_values, _notValues, identity.Principal);
                case ConditionKeys.SourceNamespace:
                    return StringPattern.Field(_values, _notValues, identity.Namespace);
                case ConditionKeys.AuthPrincipal:
                    return StringPattern.Field(_values, _notValues, identity.User?.Principal ?? "");
                case ConditionKeys.AuthPresenter:
                    return StringPattern.Field(_values, _notValues, identity.User?.Presenter ?? "");
                default:
                    // destination.ip and connection.sni: no TLS server name and no local address in the exchange yet;
                    // an empty value matches no value (the validator reports these keys as not enforced).
                    return StringPattern.Field(_values, _notValues, "");
            }
        }
    }

    private static IpBlock[] Blocks(IEnumerable<string> texts) =>
        texts.Select(t => IpBlock.TryParse(t, out var b) ? b : null).Where(b => b is not null).Select(b => b!.Value).ToArray();

    private static bool AnyBlock(IpBlock[] blocks, IPAddress address)
    {
        foreach (var block in blocks)
        {
            if (block.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    private static int[] Ports(IReadOnlyList<string> ports) =>
        ports.Select(p => int.TryParse(p, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : -1).Where(n => n > 0).ToArray();
}
