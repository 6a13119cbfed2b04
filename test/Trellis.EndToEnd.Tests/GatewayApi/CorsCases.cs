namespace Trellis.EndToEnd.Tests.GatewayApi;

/// <summary>
/// The exchanges of upstream's HTTPRouteCORS (conformance/tests/httproute-cors.go), in its order: preflights answered
/// by the gateway (200 or 204, header values compared without whitespace and in either order where upstream allows
/// it) and simple requests that reach the backend with the grant added, or without it for a foreign origin.
/// </summary>
internal static class CorsCases
{
    private const string Ns = ConformanceRun.Infra;

    private static readonly string[] GetOptions = ["GET, OPTIONS", "OPTIONS, GET"];
    private static readonly string[] Headers12 = ["x-header-1, x-header-2", "x-header-2, x-header-1"];
    private static readonly string[] Headers34 = ["x-header-3, x-header-4", "x-header-4, x-header-3"];

    public static Expectation[] All { get; } =
    [
        Preflight("/cors-1", "https://www.foo.com", "GET", "x-header-1, x-header-2", [200, 204], FullGrant("https://www.foo.com")),
        Preflight("/cors-1", "https://www.bar.com", "GET", "x-header-1, x-header-2", [200], FullGrant("https://www.bar.com")),
        Preflight("/cors-1", "https://xpto.www.bar.com", "GET", "x-header-1, x-header-2", [200], FullGrant("https://xpto.www.bar.com")),
        Preflight("/cors-1", "https://foobar.com", "GET", null, [200, 204, 403], null, ["access-control-allow-origin"]),
        Simple("/cors-1", "GET", "https://www.foo.com", exact: new() { ["access-control-allow-origin"] = "https://www.foo.com" }, preflightHeaders: true),
        Simple("/cors-1", "GET", "https://www.bar.com", exact: new() { ["access-control-allow-origin"] = "https://www.bar.com" }, preflightHeaders: true),
        Simple("/cors-1", "GET", "https://foobar.com", absent: ["access-control-allow-origin"], statuses: [200], preflightHeaders: true),
        Preflight("/cors-2", "https://www.foo.com", "POST", null, [200, 204], new() { ["access-control-allow-methods"] = ["POST", "*"] },
            ["access-control-allow-credentials"], new() { ["access-control-allow-origin"] = "https://www.foo.com" }),
        Preflight("/cors-2", "https://www.foo.com", "POST", null, [200], null, ["Access-Control-Allow-Credentials"]),
        Preflight("/cors-wildcard-origin", "https://foobar.com", "PUT", null, [200, 204],
            new() { ["access-control-allow-origin"] = ["https://foobar.com", "*"], ["access-control-allow-methods"] = ["PUT"] }, ["Access-Control-Allow-Credentials"]),
        Preflight("/cors-wildcard-origin", "https://foobar.com:12345", "PUT", null, [200, 204],
            new() { ["access-control-allow-origin"] = ["https://foobar.com:12345", "*"], ["access-control-allow-methods"] = ["PUT"] }, ["Access-Control-Allow-Credentials"]),
        Simple("/cors-wildcard-origin", "PUT", "https://foobar.com:12345", valid: new() { ["access-control-allow-origin"] = ["https://foobar.com:12345", "*"] }, statuses: [200]),
        Simple("/cors-wildcard-origin", "PUT", "https://foobar.com", valid: new() { ["access-control-allow-origin"] = ["https://foobar.com", "*"] },
            absent: ["Access-Control-Allow-Credentials"]),
        Preflight("/cors-wildcard-methods-headers", "https://other.foo.com", "PUT", "x-header-1, x-header-2", [200], new()
        {
            ["access-control-allow-origin"] = ["https://other.foo.com"], ["access-control-allow-methods"] = ["PUT"],
            ["access-control-allow-headers"] = Headers12, ["access-control-allow-credentials"] = ["true"],
        }),
        Preflight("/cors-wildcard-methods-headers-unauth", "https://other.foo.com", "PUT", "x-header-1, x-header-2", [200], new()
        {
            ["access-control-allow-origin"] = ["https://other.foo.com", "*"], ["access-control-allow-methods"] = ["PUT", "*"],
            ["access-control-allow-headers"] = [.. Headers12, "*"],
        }, ["access-control-allow-credentials"]),
        Simple("/cors-wildcard-methods-headers", "GET", "https://other.foo.com", authorization: true, statuses: [200],
            valid: new() { ["access-control-allow-origin"] = ["https://other.foo.com"], ["access-control-allow-credentials"] = ["true"] }),
        Simple("/cors-wildcard-methods-headers-unauth", "GET", "https://other.foo.com", authorization: true, statuses: [200],
            valid: new() { ["access-control-allow-origin"] = ["https://other.foo.com"] }, absent: ["access-control-allow-credentials"]),
    ];

    private static Dictionary<string, string[]> FullGrant(string origin) => new()
    {
        ["access-control-allow-origin"] = [origin],
        ["access-control-allow-methods"] = GetOptions,
        ["access-control-allow-headers"] = Headers12,
        ["access-control-expose-headers"] = Headers34,
        ["access-control-max-age"] = ["3600"],
        ["access-control-allow-credentials"] = ["true"],
    };

    /// <summary>A preflight: answered by the gateway, so only status and headers are compared.</summary>
    private static Expectation Preflight(string path, string origin, string method, string? requestHeaders, int[] statuses,
        Dictionary<string, string[]>? valid = null, string[]? absent = null, Dictionary<string, string>? exact = null)
    {
        var headers = new Dictionary<string, string> { ["Origin"] = origin, ["access-control-request-method"] = method };
        if (requestHeaders is not null)
        {
            headers["access-control-request-headers"] = requestHeaders;
        }

        return new Expectation(new ConformanceRequest(path, Method: "OPTIONS", Headers: headers), Statuses: statuses,
            ValidResponseHeaders: valid, AbsentResponseHeaders: absent, ResponseHeaders: exact);
    }

    /// <summary>An actual request with an Origin: it reaches the backend in the infra namespace.</summary>
    private static Expectation Simple(string path, string method, string origin, Dictionary<string, string>? exact = null,
        Dictionary<string, string[]>? valid = null, string[]? absent = null, int[]? statuses = null, bool preflightHeaders = false, bool authorization = false)
    {
        var headers = new Dictionary<string, string> { ["Origin"] = origin };
        if (preflightHeaders)
        {
            // Upstream sends these on its simple requests too; they must not turn them into preflights.
            headers["access-control-request-method"] = "GET";
            headers["access-control-request-headers"] = "x-header-1, x-header-2";
        }

        if (authorization)
        {
            headers["Authorization"] = "Bearer test";
        }

        return new Expectation(new ConformanceRequest(path, Method: method, Headers: headers), Namespace: Ns, Statuses: statuses ?? [200, 204],
            ResponseHeaders: exact, ValidResponseHeaders: valid, AbsentResponseHeaders: absent);
    }
}
