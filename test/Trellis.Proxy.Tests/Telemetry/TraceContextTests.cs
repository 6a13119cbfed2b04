using Trellis.Proxy.Telemetry.Tracing;

namespace Trellis.Proxy.Tests.Telemetry;

/// <summary>
/// Trace-context parsing against the cases of the W3C trace-context test suite (w3c/trace-context test/test.py:
/// versions, lengths, case, all-zero ids, separators) and B3's single and multi-header forms.
/// </summary>
public sealed class TraceContextTests
{
    [Theory]
    [InlineData("00-12345678901234567890123456789012-1234567890123456-01", true, true)]
    [InlineData("00-12345678901234567890123456789012-1234567890123456-00", true, false)]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09", true, true)] // other flag bits ignored
    [InlineData("cc-12345678901234567890123456789012-1234567890123456-01", true, true)] // a future version, read as 00
    [InlineData("cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like", true, true)]
    [InlineData("cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like", false, false)]
    [InlineData("00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like", false, false)] // 00 is exactly 55
    [InlineData("ff-12345678901234567890123456789012-1234567890123456-01", false, false)] // version ff is invalid
    [InlineData("0-12345678901234567890123456789012-1234567890123456-01", false, false)]
    [InlineData("000-12345678901234567890123456789012-1234567890123456-01", false, false)]
    [InlineData("00-00000000000000000000000000000000-1234567890123456-01", false, false)] // all-zero trace id
    [InlineData("00-12345678901234567890123456789012-0000000000000000-01", false, false)] // all-zero parent id
    [InlineData("00-1234567890123456789012345678901-1234567890123456-01", false, false)] // trace id one short
    [InlineData("00-123456789012345678901234567890123-1234567890123456-01", false, false)]
    [InlineData("00-12345678901234567890123456789012-123456789012345-01", false, false)]
    [InlineData("00-12345678901234567890123456789012-1234567890123456-1", false, false)]
    [InlineData("00-ABCDEF78901234567890123456789012-1234567890123456-01", false, false)] // upper case
    [InlineData("00-12345678901234567890123456789012-1234567890123456-0G", false, false)]
    [InlineData("00_12345678901234567890123456789012_1234567890123456_01", false, false)]
    [InlineData(" 00-12345678901234567890123456789012-1234567890123456-01", false, false)]
    [InlineData("00-1234567890123456789012345678901g-1234567890123456-01", false, false)]
    [InlineData("", false, false)]
    public void TryParseTraceParent_TestSuiteCases(string value, bool valid, bool sampled)
    {
        Assert.Equal(valid, TraceContext.TryParseTraceParent(value, out var context));
        Assert.Equal(sampled, valid && context.Sampled);
    }

    [Fact]
    public void FormatTraceParent_ChildKeepsTraceAndSamplingWithNewSpan()
    {
        Assert.True(TraceContext.TryParseTraceParent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future", out var parent));
        Span<char> text = stackalloc char[TraceContext.TraceParentLength];
        parent.Child(0xabcdef0123456789).FormatTraceParent(text);
        Assert.Equal("00-4bf92f3577b34da6a3ce929d0e0e4736-abcdef0123456789-01", text.ToString()); // written as version 00
    }

    [Theory]
    [InlineData("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90", "80f198ee56343ba864fe8b2a57d3eff7", true)]
    [InlineData("64fe8b2a57d3eff7-e457b5a2e4d86bd1-d", "000000000000000064fe8b2a57d3eff7", true)]
    [InlineData("64fe8b2a57d3eff7-e457b5a2e4d86bd1-0", "000000000000000064fe8b2a57d3eff7", false)]
    [InlineData("64fe8b2a57d3eff7-e457b5a2e4d86bd1", "000000000000000064fe8b2a57d3eff7", false)]
    public void TryParseB3_SingleHeader(string value, string traceId, bool sampled)
    {
        Assert.True(TraceContext.TryParseB3(value, out var context, out _));
        Assert.Equal(traceId, context.TraceIdText()); // a 64-bit id padded on the left

        Assert.Equal(sampled, context.Sampled);
        Assert.Equal(0xe457b5a2e4d86bd1UL, context.SpanId);
    }

    [Theory]
    [InlineData("0", false)]
    [InlineData("1", true)]
    [InlineData("d", true)]
    public void TryParseB3_DecisionOnly_NoContextButTheDecision(string value, bool sampled)
    {
        Assert.False(TraceContext.TryParseB3(value, out _, out var decision));
        Assert.Equal(sampled, decision);
    }

    [Theory]
    [InlineData("64fe8b2a57d3eff7-e457b5a2e4d86bd1-2")] // unknown sampling state
    [InlineData("64fe8b2a57d3eff-e457b5a2e4d86bd1-1")] // 15-digit trace id
    [InlineData("64fe8b2a57d3eff7-e457b5a2e4d86bd-1")]
    [InlineData("64FE8B2A57D3EFF7-e457b5a2e4d86bd1-1")]
    [InlineData("64fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a")] // short parent id
    [InlineData("0000000000000000-e457b5a2e4d86bd1-1")]
    [InlineData("garbage")]
    public void TryParseB3_Malformed_Invalid(string value)
    {
        Assert.False(TraceContext.TryParseB3(value, out _, out var decision));
        Assert.Null(decision);
    }

    [Theory]
    [InlineData("463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312", "1", "", true, true)]
    [InlineData("463ac35c9f6413ad", "a2fb4a1d1a96d312", "0", "", true, false)]
    [InlineData("463ac35c9f6413ad", "a2fb4a1d1a96d312", "", "1", true, true)] // debug
    [InlineData("463ac35c9f6413ad", "a2fb4a1d1a96d31", "1", "", false, false)]
    [InlineData("", "a2fb4a1d1a96d312", "1", "", false, false)]
    public void TryParseB3Multi_Cases(string traceId, string spanId, string sampled, string flags, bool valid, bool sampledOut)
    {
        Assert.Equal(valid, TraceContext.TryParseB3Multi(traceId, spanId, sampled, flags, out var context));
        Assert.Equal(sampledOut, valid && context.Sampled);
    }
}
