using System.Text.Json;
using Trellis.Api.Snapshots;
using static Trellis.ControlPlane.Tests.Compiler.CompilerHarness;

namespace Trellis.ControlPlane.Tests.Compiler;

/// <summary>
/// VirtualService <c>http</c> rule in (the YAML under <c>http:</c>), one field of the compiled route out (as the wire JSON),
/// with Istio's semantics and defaults (pilot/pkg/networking/core/route).
/// </summary>
public sealed class HttpPolicyTranslationTests
{
    public static TheoryData<string, string, string, string> Cases => new()
    {
        // retries
        { "no retries: Istio's default", "route: [{destination: {host: reviews}}]", "retry",
          """{"attempts":2,"retryOn":["connect-failure","refused-stream","unavailable","cancelled","retriable-status-codes"],"retriableStatusCodes":[503],"retryOnExplicit":false,"retryRemoteLocalities":false,"ignorePreviousHosts":true}""" },
        { "attempts 0 disables", "route: [{destination: {host: reviews}}]\n  retries: {attempts: 0, retryOn: 5xx}", "retry", "null" },
        { "attempts only keeps the default conditions", "route: [{destination: {host: reviews}}]\n  retries: {attempts: 4}", "retry",
          """{"attempts":4,"retryOn":["connect-failure","refused-stream","unavailable","cancelled","retriable-status-codes"],"retriableStatusCodes":[503],"retryOnExplicit":false,"retryRemoteLocalities":false,"ignorePreviousHosts":true}""" },
        { "retryOn with statuses", "route: [{destination: {host: reviews}}]\n  retries: {attempts: 3, perTryTimeout: 2s, retryOn: '5xx, gateway-error,503,429,reset-before-request', retryRemoteLocalities: true, backoff: 100ms}", "retry",
          """{"attempts":3,"perTryTimeout":"00:00:02","retryOn":["5xx","gateway-error","retriable-status-codes"],"retriableStatusCodes":[503,429],"retryOnExplicit":true,"backoffBase":"00:00:00.1000000","retryRemoteLocalities":true,"ignorePreviousHosts":true}""" },
        { "retryIgnorePreviousHosts false", "route: [{destination: {host: reviews}}]\n  retries: {attempts: 2, retryOn: 5xx, retryIgnorePreviousHosts: false}", "retry",
          """{"attempts":2,"retryOn":["5xx"],"retriableStatusCodes":[],"retryOnExplicit":true,"retryRemoteLocalities":false,"ignorePreviousHosts":false}""" },
        { "scheme match", "match: [{scheme: {exact: https}}]\n  route: [{destination: {host: reviews}}]", "matches",
          """[{"ignoreUriCase":false,"scheme":{"kind":"exact","value":"https"}}]""" },
        { "a redirect is not retried", "redirect: {uri: /v2}", "retry", "null" },

        // fault
        { "bookinfo abort", "route: [{destination: {host: reviews}}]\n  fault: {abort: {percentage: {value: 100.0}, httpStatus: 500}}", "fault",
          """{"abort":{"httpStatus":500,"percentage":100}}""" },
        { "bookinfo delay", "route: [{destination: {host: reviews}}]\n  fault: {delay: {percentage: {value: 100.0}, fixedDelay: 7s}}", "fault",
          """{"delay":{"fixedDelay":"00:00:07","percentage":100}}""" },
        { "no percentage: no request", "route: [{destination: {host: reviews}}]\n  fault: {delay: {fixedDelay: 1s}, abort: {httpStatus: 503}}", "fault",
          """{"delay":{"fixedDelay":"00:00:01","percentage":0},"abort":{"httpStatus":503,"percentage":0}}""" },
        { "deprecated percent", "route: [{destination: {host: reviews}}]\n  fault: {delay: {fixedDelay: 1s, percent: 30}}", "fault",
          """{"delay":{"fixedDelay":"00:00:01","percentage":30}}""" },
        { "percentage wins over percent", "route: [{destination: {host: reviews}}]\n  fault: {delay: {fixedDelay: 1s, percent: 30, percentage: {value: 0.5}}}", "fault",
          """{"delay":{"fixedDelay":"00:00:01","percentage":0.5}}""" },
        { "gRPC status by name", "route: [{destination: {host: reviews}}]\n  fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 10}}}", "fault",
          """{"abort":{"grpcStatus":14,"percentage":10}}""" },
        { "http2Error is not translated", "route: [{destination: {host: reviews}}]\n  fault: {abort: {http2Error: CANCEL, percentage: {value: 10}}}", "fault", "null" },
        { "fault on a direct response", "directResponse: {status: 200}\n  fault: {abort: {httpStatus: 418, percentage: {value: 1}}}", "fault",
          """{"abort":{"httpStatus":418,"percentage":1}}""" },

        // mirrors
        { "mirror without percentage mirrors all", "route: [{destination: {host: reviews, subset: v1}}]\n  mirror: {host: reviews, subset: v2}", "mirrors",
          """[{"cluster":"outbound|9080|v2|reviews.default.svc.cluster.local","percentage":100}]""" },
        { "mirrorPercentage", "route: [{destination: {host: reviews, subset: v1}}]\n  mirror: {host: reviews, subset: v2}\n  mirrorPercentage: {value: 12.5}", "mirrors",
          """[{"cluster":"outbound|9080|v2|reviews.default.svc.cluster.local","percentage":12.5}]""" },
        { "mirrorPercentage 0 mirrors nothing", "route: [{destination: {host: reviews, subset: v1}}]\n  mirror: {host: reviews, subset: v2}\n  mirrorPercentage: {value: 0}", "mirrors", "null" },
        { "mirror then mirrors", "route: [{destination: {host: reviews, subset: v1}}]\n  mirror: {host: reviews, subset: v2}\n  mirrors: [{destination: {host: reviews, subset: v3}, percentage: {value: 5}}, {destination: {host: reviews}, percentage: {value: 0}}]", "mirrors",
          """[{"cluster":"outbound|9080|v2|reviews.default.svc.cluster.local","percentage":100},{"cluster":"outbound|9080|v3|reviews.default.svc.cluster.local","percentage":5}]""" },

        // CORS
        { "allowOrigins", "route: [{destination: {host: reviews}}]\n  corsPolicy: {allowOrigins: [{exact: 'https://a.example'}, {prefix: 'https://b.'}, {regex: 'https://.*\\.c\\.example'}], allowMethods: [GET, POST], allowHeaders: [x-a], exposeHeaders: [x-b], maxAge: 90.9s, allowCredentials: true}", "cors",
          """{"allowOrigins":[{"kind":"exact","value":"https://a.example"},{"kind":"prefix","value":"https://b."},{"kind":"regex","value":"https://.*\\.c\\.example"}],"allowMethods":["GET","POST"],"allowHeaders":["x-a"],"exposeHeaders":["x-b"],"maxAge":"00:01:30","allowCredentials":true,"forwardUnmatchedPreflights":true}""" },
        { "deprecated allowOrigin, IGNORE", "route: [{destination: {host: reviews}}]\n  corsPolicy: {allowOrigin: ['*'], unmatchedPreflights: IGNORE}", "cors",
          """{"allowOrigins":[{"kind":"exact","value":"*"}],"forwardUnmatchedPreflights":false}""" },

        // direct responses, rewrites, headers, redirects
        { "direct response string", "directResponse: {status: 503, body: {string: unavailable}}", "directResponse", """{"status":503,"body":"dW5hdmFpbGFibGU="}""" },
        { "direct response bytes", "directResponse: {status: 200, body: {bytes: AAEC}}", "directResponse", """{"status":200,"body":"AAEC"}""" },
        { "uriRegexRewrite and authority", "route: [{destination: {host: reviews}}]\n  rewrite: {uriRegexRewrite: {match: '^/v1/(.*)', rewrite: '/\\1'}, authority: inner}", "rewrite",
          """{"authority":"inner","uriRegex":{"match":"^/v1/(.*)","rewrite":"/\\1"}}""" },
        { "host header is an authority rewrite", "route: [{destination: {host: reviews}}]\n  headers: {request: {set: {host: a.example, x-a: '1'}, add: {':authority': b.example}, remove: [host, x-b]}}", "rewrite+headers",
          """[{"authority":"a.example"},{"set":{"x-a":"1"},"remove":["x-b"]}]""" },
        { "rewrite authority wins over the host header", "route: [{destination: {host: reviews}}]\n  rewrite: {authority: r.example}\n  headers: {request: {set: {host: a.example}}}", "rewrite", """{"authority":"r.example"}""" },
        { "one destination's host is the route's", "route: [{destination: {host: reviews}, headers: {request: {set: {host: d.example}}, response: {add: {x-r: '1'}}}}]", "rewrite+clusters",
          """[{"authority":"d.example"},[{"cluster":"outbound|9080||reviews.default.svc.cluster.local","weight":100,"responseHeaders":{"add":{"x-r":"1"}}}]]""" },
        { "weighted destinations keep their headers", "route: [{destination: {host: reviews, subset: v1}, weight: 90, headers: {request: {set: {x-v: '1', host: v1.example}}}}, {destination: {host: reviews, subset: v2}, weight: 10}, {destination: {host: reviews, subset: v3}, weight: 0}]", "clusters",
          """[{"cluster":"outbound|9080|v1|reviews.default.svc.cluster.local","weight":90,"requestHeaders":{"set":{"x-v":"1","host":"v1.example"}}},{"cluster":"outbound|9080|v2|reviews.default.svc.cluster.local","weight":10}]""" },
        { "derivePort FROM_REQUEST_PORT", "redirect: {uri: /x, derivePort: FROM_REQUEST_PORT}", "redirect", """{"uri":"/x","port":9080,"statusCode":301}""" },
        { "derivePort FROM_PROTOCOL_DEFAULT", "redirect: {uri: /x, derivePort: FROM_PROTOCOL_DEFAULT, scheme: https}", "redirect", """{"uri":"/x","scheme":"https","statusCode":301}""" },
        { "port 80 for http is left out", "redirect: {authority: a.example, port: 80, redirectCode: 302}", "redirect", """{"authority":"a.example","statusCode":302}""" },
        { "port 443 for http is kept", "redirect: {authority: a.example, port: 443}", "redirect", """{"authority":"a.example","port":443,"statusCode":301}""" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Translate_HttpRule_CompilesIstioSemantics(string name, string rule, string field, string expected)
    {
        var yaml = $"""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {"{"}name: reviews{"}"}
            spec:
              hosts: [reviews]
              http:
              - {rule.Replace("\n  ", "\n    ", StringComparison.Ordinal)}
            """;
        var route = OutboundRoutes(Compile(yaml)).Single();

        object? actual = field switch
        {
            "retry" => route.Retry,
            "fault" => route.Fault,
            "mirrors" => route.Mirrors,
            "cors" => route.Cors,
            "directResponse" => route.DirectResponse,
            "rewrite" => route.Rewrite,
            "redirect" => route.Redirect,
            "clusters" => route.Clusters,
            "matches" => route.Matches,
            "rewrite+headers" => new object?[] { route.Rewrite, route.RequestHeaders },
            "rewrite+clusters" => new object?[] { route.Rewrite, route.Clusters },
            _ => throw new ArgumentException(field),
        };
        Assert.True(expected == Json(actual), $"{name}\nexpected {expected}\nactual   {Json(actual)}");
    }

    [Fact]
    public void Translate_NoVirtualService_DefaultRouteCarriesIstioDefaultRetries()
    {
        var route = OutboundRoutes(Compile("", withRule: false)).Single();
        Assert.Equal(2, route.Retry!.Attempts);
        Assert.False(route.Retry.RetryOnExplicit);
    }

    [Fact]
    public void Translate_RulesAfterACatchAll_AreDropped_AndMatchesForOtherPortsToo()
    {
        var routes = OutboundRoutes(Compile("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews}
            spec:
              hosts: [reviews]
              http:
              - match: [{uri: {prefix: /other}, port: 9999}]
                route: [{destination: {host: reviews, subset: v3}}]
              - match: [{uri: {prefix: /a}}, {uri: {prefix: /}}, {uri: {prefix: /never}}]
                route: [{destination: {host: reviews, subset: v1}}]
              - route: [{destination: {host: reviews, subset: v2}}]
            """));

        var route = Assert.Single(routes);
        Assert.Equal(["/a", "/"], route.Matches.Select(m => m.Uri!.Value));
        Assert.All(route.Matches, m => Assert.Null(m.Port));
    }

    private static string Json(object? value) => JsonSerializer.Serialize(value, WireJson.Options);
}
