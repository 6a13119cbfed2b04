using Trellis.Api.Observability;

namespace Trellis.Api.Tests.Observability;

/// <summary>The CEL subset of access-log filters: what it accepts, how it evaluates, and precise errors for the rest.</summary>
public sealed class LogFilterExpressionTests
{
    private sealed record Request(int Code, string Method = "GET", string Path = "/api/v1?x=1", string Host = "reviews:9080", string? Debug = null) : ILogAttributes
    {
        public int ResponseCode => Code;

        public string? Get(LogAttribute attribute, string? header) => attribute switch
        {
            LogAttribute.RequestMethod => Method,
            LogAttribute.RequestPath => Path,
            LogAttribute.RequestUrlPath => Path.Split('?')[0],
            LogAttribute.RequestHost => Host,
            LogAttribute.RequestHeader => header == "x-debug" ? Debug : null,
            _ => null,
        };
    }

    public static TheoryData<string, int, bool> Cases => new()
    {
        { "response.code >= 400", 503, true },
        { "response.code >= 400", 200, false },
        { "response.code == 200 && request.method == 'GET'", 200, true },
        { "response.code != 200 || request.method == \"POST\"", 200, false },
        { "!(response.code < 300)", 404, true },
        { "request.url_path.startsWith('/api')", 200, true },
        { "request.path.endsWith('x=1') && request.host.contains('reviews')", 200, true },
        { "request.headers['X-Debug'] == '1'", 200, false }, // absent: the comparison is false (CEL's error)
        { "request.headers['x-debug'] != '1'", 200, false },
        { "true", 500, true },
        { "false || response.code > 499", 500, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_Expression_AsCelWould(string text, int code, bool expected)
    {
        var filter = LogFilterExpression.Parse(text, out var error);

        Assert.True(filter is not null, error);
        Assert.Equal(expected, filter.Matches(new Request(code)));
    }

    [Fact]
    public void Parse_HeaderIndex_HeaderCapturedLowerCase()
    {
        var filter = LogFilterExpression.Parse("request.headers['X-Debug'] == '1'", out _)!;

        Assert.Equal(["x-debug"], filter.Headers);
        Assert.True(filter.Matches(new Request(200, Debug: "1")));
    }

    [Theory]
    [InlineData("size(request.path) > 3", "unsupported attribute 'size'")]
    [InlineData("response.code >= '400'", "response.code is compared with an integer")]
    [InlineData("request.method > 'GET'", "strings are compared with == or !=")]
    [InlineData("response.code >= 400 &&", "unsupported attribute ''")]
    [InlineData("(response.code >= 400", "expected ')'")]
    [InlineData("request.path.matches('x')", "unsupported method 'matches'")]
    [InlineData("request.method == 'GET", "unterminated string literal")]
    [InlineData("response.code >= 400 extra", "unexpected 'e'")]
    public void Parse_OutsideTheSubset_PreciseError(string text, string expected)
    {
        Assert.Null(LogFilterExpression.Parse(text, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Contains("at position", error, StringComparison.Ordinal);
    }
}
