using Trellis.Api.Snapshots;
using Trellis.Proxy.Resilience;

namespace Trellis.Proxy.Tests.Resilience;

public sealed class CorsPolicyTests
{
    private static readonly CorsConfig Bookinfo = new(
        [new(StringMatchKind.Exact, "https://example.com"), new(StringMatchKind.Prefix, "https://app."), new(StringMatchKind.Regex, @"https://.*\.trellis\.dev")],
        AllowMethods: ["GET", "POST"],
        AllowHeaders: ["x-custom", "content-type"],
        ExposeHeaders: ["x-request-id"],
        MaxAge: TimeSpan.FromHours(24),
        AllowCredentials: true);

    public static TheoryData<string, string, string, string, bool> Requests() => new()
    {
        // method, Origin, Access-Control-Request-Method, decision, whether unmatched preflights are forwarded
        { "GET", "", "", "NotCors", true },
        { "OPTIONS", "", "GET", "NotCors", true },
        { "GET", "https://example.com", "", "Allowed", true },
        { "OPTIONS", "https://example.com", "POST", "Preflight", true },
        { "OPTIONS", "https://example.com", "", "Allowed", true }, // OPTIONS without the request method: no preflight
        { "GET", "https://example.com.evil", "", "NotAllowed", true }, // exact means exact
        { "GET", "https://app.example.com", "", "Allowed", true },
        { "GET", "https://a.trellis.dev", "", "Allowed", true },
        { "GET", "https://trellis.dev", "", "NotAllowed", true }, // the regex matches the whole origin
        { "GET", "https://a.trellis.dev.evil", "", "NotAllowed", true },
        { "GET", "HTTPS://EXAMPLE.COM", "", "NotAllowed", true }, // case-sensitive, as Envoy's matchers
        { "OPTIONS", "https://evil.com", "GET", "NotAllowed", true }, // unmatchedPreflights: FORWARD
        { "OPTIONS", "https://evil.com", "GET", "PreflightIgnored", false }, // IGNORE: answered, no CORS fields
        { "GET", "https://evil.com", "", "NotAllowed", false },
        { "options", "https://example.com", "GET", "Allowed", true }, // methods are case-sensitive (RFC 9110 §9.1)
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public void Evaluate_Request_EnvoysDecision(string method, string origin, string requestMethod, string expected, bool forwardUnmatched)
    {
        var policy = new CorsPolicy(Bookinfo with { ForwardUnmatchedPreflights = forwardUnmatched }, TimeSpan.FromMilliseconds(50));

        Assert.Equal(Enum.Parse<CorsDecision>(expected), policy.Evaluate(method, origin, requestMethod));
    }

    [Theory]
    [InlineData(StringMatchKind.Exact, "*")]
    [InlineData(StringMatchKind.Prefix, "")]
    [InlineData(StringMatchKind.Regex, ".*")]
    public void Evaluate_MatcherAcceptingStar_AllowsEveryOrigin(StringMatchKind kind, string value)
    {
        var policy = new CorsPolicy(new CorsConfig([new(kind, value)]), TimeSpan.FromMilliseconds(50));

        Assert.Equal(CorsDecision.Allowed, policy.Evaluate("GET", "https://anything.example", ""));
    }

    [Fact]
    public void Evaluate_NoOrigins_NoneAllowed() =>
        Assert.Equal(CorsDecision.NotAllowed, new CorsPolicy(new CorsConfig([]), TimeSpan.FromSeconds(1)).Evaluate("GET", "https://a.b", ""));

    [Fact]
    public void PreflightHeaders_Configured_EnvoysFieldsInOrder()
    {
        var policy = new CorsPolicy(Bookinfo, TimeSpan.FromMilliseconds(50));

        var fields = new List<(string, string)>();
        foreach (var field in policy.PreflightHeaders("https://example.com", "POST", "x-custom"))
        {
            fields.Add(field);
        }

        Assert.Equal(
        [
            ("access-control-allow-origin", "https://example.com"),
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-methods", "GET,POST"),
            ("access-control-allow-headers", "x-custom,content-type"),
            ("access-control-expose-headers", "x-request-id"),
            ("access-control-max-age", "86400"),
        ], fields);
    }

    [Fact]
    public void ResponseHeaders_Configured_OriginCredentialsAndExposed()
    {
        var policy = new CorsPolicy(Bookinfo, TimeSpan.FromMilliseconds(50));

        var fields = new List<(string, string)>();
        foreach (var field in policy.ResponseHeaders("https://app.example.com"))
        {
            fields.Add(field);
        }

        Assert.Equal(
        [
            ("access-control-allow-origin", "https://app.example.com"),
            ("access-control-allow-credentials", "true"),
            ("access-control-expose-headers", "x-request-id"),
        ], fields);
    }

    [Fact]
    public void PreflightHeaders_Minimal_OnlyTheOrigin()
    {
        var policy = new CorsPolicy(new CorsConfig([new(StringMatchKind.Exact, "https://a.b")], AllowCredentials: false, MaxAge: TimeSpan.FromMilliseconds(1500)), TimeSpan.FromSeconds(1));

        var fields = new List<(string, string)>();
        foreach (var field in policy.PreflightHeaders("https://a.b", "GET", string.Empty))
        {
            fields.Add(field);
        }

        Assert.Equal([("access-control-allow-origin", "https://a.b"), ("access-control-max-age", "1")], fields);
    }

    [Fact]
    public void PreflightHeaders_IgnoredUnmatched_EverythingButTheOrigin()
    {
        var policy = new CorsPolicy(Bookinfo with { ForwardUnmatchedPreflights = false }, TimeSpan.FromMilliseconds(50));

        var fields = new List<(string Name, string Value)>();
        foreach (var field in policy.PreflightHeaders(null, "POST", string.Empty))
        {
            fields.Add(field);
        }

        Assert.Equal(
            ["access-control-allow-credentials", "access-control-allow-methods", "access-control-allow-headers", "access-control-expose-headers", "access-control-max-age"],
            fields.Select(f => f.Name));
    }

    [Fact]
    public void PreflightHeaders_Star_EchoesWhatThePreflightAsked()
    {
        var policy = new CorsPolicy(new CorsConfig([new(StringMatchKind.Exact, "*")], AllowMethods: ["*"], AllowHeaders: ["*"]), TimeSpan.FromSeconds(1));

        var fields = new List<(string, string)>();
        foreach (var field in policy.PreflightHeaders("https://a.b", "PATCH", "x-one, x-two"))
        {
            fields.Add(field);
        }

        Assert.Equal(
        [
            ("access-control-allow-origin", "https://a.b"),
            ("access-control-allow-methods", "PATCH"),
            ("access-control-allow-headers", "x-one, x-two"),
        ], fields);
    }
}
