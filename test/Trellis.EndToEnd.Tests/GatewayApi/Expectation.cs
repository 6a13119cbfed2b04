namespace Trellis.EndToEnd.Tests.GatewayApi;

/// <summary>A request of a conformance case (upstream: <c>http.Request</c>).</summary>
public sealed record ConformanceRequest(string Path, string? Host = null, string Method = "GET", IReadOnlyDictionary<string, string>? Headers = null);

/// <summary>What the backend must have received (upstream: <c>http.ExpectedRequest</c>); unset parts default to the request's.</summary>
public sealed record ExpectedUpstream(string? Path = null, string? Host = null, IReadOnlyDictionary<string, string>? Headers = null, IReadOnlyList<string>? AbsentHeaders = null);

/// <summary>The Location of a redirect (upstream: <c>http.RedirectRequest</c>); unset parts default to the request's.</summary>
public sealed record ExpectedRedirect(string? Scheme = null, string? Host = null, string? Port = null, string? Path = null);

/// <summary>
/// One expected exchange of a conformance case, as upstream's <c>http.ExpectedResponse</c>: the status (200 unless
/// written, or any of <paramref name="Statuses"/>), for a 200 the backend (the pod name starts with it) and namespace
/// that answered and what they received, for a redirect where it points, and response headers: exact
/// (<paramref name="ResponseHeaders"/>), one of several values compared without whitespace, as upstream's
/// <c>ValidHeaderValues</c> with <c>IgnoreWhitespace</c> (<paramref name="ValidResponseHeaders"/>), or absent.
/// </summary>
public sealed record Expectation(
    ConformanceRequest Request,
    string? Backend = null,
    string? Namespace = null,
    int Status = 200,
    ExpectedUpstream? Upstream = null,
    ExpectedRedirect? Redirect = null,
    IReadOnlyDictionary<string, string>? ResponseHeaders = null,
    IReadOnlyList<string>? AbsentResponseHeaders = null,
    IReadOnlyList<int>? Statuses = null,
    IReadOnlyDictionary<string, string[]>? ValidResponseHeaders = null)
{
    public override string ToString() => $"{Request.Method} {Request.Host}{Request.Path} → {Status} {Backend}";
}

/// <summary>A captured exchange: the status, the Location, response headers and the echo backend's JSON.</summary>
public sealed record Captured(int Status, Uri? Location, IReadOnlyDictionary<string, string> Headers, System.Text.Json.Nodes.JsonObject? Echo);
