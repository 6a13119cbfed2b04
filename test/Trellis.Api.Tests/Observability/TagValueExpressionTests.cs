using Trellis.Api.Observability;

namespace Trellis.Api.Tests.Observability;

/// <summary>The CEL subset of metric tag values: the expressions Istio's docs write, their values, and precise errors for the rest.</summary>
public sealed class TagValueExpressionTests
{
    /// <summary>A request to reviews from productpage as the client side sees it: an x-user header, no x-missing one.</summary>
    private sealed class Attributes : ITagAttributes
    {
        public TagValue Get(TagAttributeRef attribute) => attribute.Attribute switch
        {
            TagAttribute.RequestHost => TagValue.Of("reviews:9080"),
            TagAttribute.RequestMethod => TagValue.Of("GET"),
            TagAttribute.RequestPath => TagValue.Of("/reviews/0?x=1"),
            TagAttribute.RequestUrlPath => TagValue.Of("/reviews/0"),
            TagAttribute.RequestHeader when attribute.Key == "x-user" => TagValue.Of("jason"),
            TagAttribute.DestinationPort => TagValue.Of(9080),
            TagAttribute.ResponseCode => TagValue.Of(503),
            TagAttribute.UpstreamPeer when attribute.Field == "labels" && attribute.Key == "app" => TagValue.Of("reviews"),
            TagAttribute.UpstreamPeer when attribute.Field == "version" => TagValue.Of("v2"),
            TagAttribute.Node when attribute.Field == "NAMESPACE" => TagValue.Of("default"),
            _ => TagValue.Absent,
        };
    }

    public static TheoryData<string, string> Values => new()
    {
        { "request.host", "reviews:9080" },
        { "request.method", "GET" },
        { "request.url_path", "/reviews/0" },
        { "request.path", "/reviews/0?x=1" },
        { "request.headers['X-User']", "jason" },
        { "request.headers['x-missing']", "unknown" }, // CEL's error: Istio writes unknown
        { "string(destination.port)", "9080" },
        { "destination.port", "9080" },
        { "response.code", "503" },
        { "'literal'", "literal" },
        { "\"double quoted\"", "double quoted" },
        { "upstream_peer.labels['app'].value", "reviews" },
        { "upstream_peer.labels['app']", "reviews" },
        { "filter_state.upstream_peer.version", "v2" },
        { "downstream_peer.app", "unknown" },
        { "node.metadata['NAMESPACE']", "default" },
        { "has(request.host) ? request.host : 'unknown'", "reviews:9080" },
        { "has(request.headers['x-missing']) ? request.headers['x-missing'] : 'none'", "none" },
        { "'x-user' in request.headers ? 'user' : 'anonymous'", "user" },
        { "response.code >= 500 ? 'server_error' : (response.code >= 400 ? 'client_error' : 'none')", "server_error" },
        { "request.url_path.startsWith('/reviews') && request.method == 'GET' ? 'read' : 'other'", "read" },
        { "request.headers['x-missing'] == 'a' ? 'a' : 'b'", "unknown" }, // the condition fails, so does the value
        { "!has(request.headers['x-user'])", "false" },
    };

    [Theory]
    [MemberData(nameof(Values))]
    public void Evaluate_IstioDocExpressions_LabelValue(string text, string expected)
    {
        var expression = TagValueExpression.Parse(text, out var error);

        Assert.True(expression is not null, error);
        Assert.Equal(expected, expression.Evaluate(new Attributes()).Render());
    }

    [Fact]
    public void Parse_RequestAndSeriesAttributes_Classified()
    {
        var expression = TagValueExpression.Parse("has(request.headers['x-user']) ? upstream_peer.app : request.host", out _)!;

        Assert.True(expression.FromRequest);
        Assert.Equal(
            ["request.headers['x-user']", "upstream_peer.app", nameof(TagAttribute.RequestHost)],
            expression.Attributes.Select(a => a.ToString()).ToArray());
        Assert.False(TagValueExpression.Parse("upstream_peer.labels['version'].value", out _)!.FromRequest);
    }

    public static TheoryData<string, string> Errors => new()
    {
        { "request.size", "unsupported attribute 'request.size'" },
        { "size(request.path)", "unsupported attribute 'size'" },
        { "source.labels['app'] | 'unknown'", "unsupported attribute 'source'" },
        { "request.host | 'unknown'", "the '|' (first non-empty) operator is Mixer's" },
        { "upstream_peer.labels['team']", "the metrics know the peer labels" },
        { "upstream_peer.pod_ip", "unsupported peer field 'pod_ip'" },
        { "request.host.lowerAscii()", "unsupported method 'lowerAscii'" },
        { "has(request.host) ? request.host", "expected ':' at the end" },
        { "'unterminated", "unterminated string literal" },
        { "", "an expression is required" },
        { "request.headers[x]", "request.headers is indexed with a string" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void Parse_OutsideTheSubset_RefusedWithPosition(string text, string message)
    {
        Assert.Null(TagValueExpression.Parse(text, out var error));
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Contains("position", error, StringComparison.Ordinal);
    }
}
