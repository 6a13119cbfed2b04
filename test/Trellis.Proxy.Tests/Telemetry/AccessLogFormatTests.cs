using System.Text.Json;
using Trellis.Proxy.Pipeline;
using Trellis.Proxy.Telemetry.AccessLogs;

namespace Trellis.Proxy.Tests.Telemetry;

public sealed class AccessLogFormatTests
{
    private static readonly AccessLogEntry Entry = new(
        new DateTimeOffset(2026, 12, 7, 5, 30, 1, 234, TimeSpan.Zero),
        "HTTP/1.1",
        503,
        ResponseFlags.NoHealthyUpstream,
        BytesReceived: 0,
        BytesSent: 91,
        Duration: TimeSpan.FromMilliseconds(12.7),
        Request: new Dictionary<string, string>
        {
            [":method"] = "GET",
            [":path"] = "/reviews/0",
            [":authority"] = "reviews:9080",
            ["user-agent"] = "curl/8.0",
            ["x-request-id"] = "r-1",
        },
        UpstreamCluster: "outbound|9080||reviews.default.svc.cluster.local",
        DownstreamLocal: "127.0.0.1:15001",
        DownstreamRemote: "127.0.0.1:40000",
        Route: "default",
        TraceId: "4bf92f3577b34da6a3ce929d0e0e4736");

    [Fact]
    public void Format_IstioText_EnvoysDefaultLine()
    {
        var line = AccessLogFormat.IstioText.Format(Entry);

        Assert.Equal(
            "[2026-12-07T05:30:01.234Z] \"GET /reviews/0 HTTP/1.1\" 503 UH - - \"-\" 0 91 12 - \"-\" \"curl/8.0\" \"r-1\" \"reviews:9080\" \"-\" "
            + "outbound|9080||reviews.default.svc.cluster.local - 127.0.0.1:15001 127.0.0.1:40000 - default\n",
            line);
    }

    [Fact]
    public void Format_IstioJson_KeysTypesAndNulls()
    {
        using var json = JsonDocument.Parse(AccessLogFormat.IstioJson.Format(Entry));
        var root = json.RootElement;

        Assert.Equal("GET", root.GetProperty("method").GetString());
        Assert.Equal(503, root.GetProperty("response_code").GetInt32());
        Assert.Equal("UH", root.GetProperty("response_flags").GetString());
        Assert.Equal(91, root.GetProperty("bytes_sent").GetInt32());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("upstream_host").ValueKind);
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", root.GetProperty("trace_id").GetString());
        Assert.Equal("r-1", root.GetProperty("request_id").GetString());
    }

    [Fact]
    public void Parse_CustomFormat_FallbackHeaderAndPercent()
    {
        var format = AccessLogFormat.Parse("%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% 100%% %TRACE_ID% %REQ(USER-AGENT):4%", out var error)!;

        Assert.Null(error);
        Assert.Equal("/reviews/0 100% 4bf92f3577b34da6a3ce929d0e0e4736 curl", format.Format(Entry));
        Assert.Equal(["x-envoy-original-path", "user-agent"], format.RequestHeaders);
    }

    [Fact]
    public void Format_AccessLogHint_TrueForAnAuditedRequestElseDash()
    {
        var format = AccessLogFormat.Parse("%RESPONSE_CODE% %DYNAMIC_METADATA(envoy.common:access_log_hint)%", out _)!;

        Assert.Equal("503 true", format.Format(Entry with { Audited = true }));
        Assert.Equal("503 -", format.Format(Entry));
    }

    [Theory]
    [InlineData("%NOT_AN_OPERATOR%", "unknown command operator %NOT_AN_OPERATOR%")]
    [InlineData("[%START_TIME", "unterminated command operator at position 1")]
    [InlineData("%REQ()%", "empty header name in %REQ()%")]
    [InlineData("%FOO(bar)%", "unknown command operator %FOO(bar)%")]
    [InlineData("%DYNAMIC_METADATA(envoy.filters.http.rbac:shadow_engine_result)%", "unknown command operator %DYNAMIC_METADATA(envoy.filters.http.rbac:shadow_engine_result)%")]
    [InlineData("%REQ(USER-AGENT)x%", "bad length limit in %REQ(USER-AGENT)x% (expected :N)")]
    public void Parse_BadFormat_PreciseError(string format, string expected)
    {
        Assert.Null(AccessLogFormat.Parse(format, out var error));
        Assert.Equal(expected, error);
    }
}
