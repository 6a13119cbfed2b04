using System.Text;
using Trellis.Proxy.Http1;

namespace Trellis.Proxy.Tests.Http1;

public sealed class HeadBuilderTests
{
    [Fact]
    public void Append_BeyondTheInitialBuffer_GrowsAndKeepsEverything()
    {
        var builder = new HeadBuilder(16);
        var expected = new StringBuilder();
        for (var i = 0; i < 500; i++)
        {
            builder.AppendHeader($"X-{i}", new string('v', i % 37));
            expected.Append(CultureInfoInvariant($"X-{i}: {new string('v', i % 37)}\r\n"));
        }

        Assert.Equal(expected.ToString(), Encoding.Latin1.GetString(builder.Written.Span));
        Assert.True(builder.Buffer.Length >= builder.Length);
        builder.ReturnBuffer();
    }

    [Fact]
    public void AppendNumbers_AtTheBufferEdge_GrowFirst()
    {
        var builder = new HeadBuilder(16);
        builder.Append(new string('a', builder.Free - 1));
        builder.Append(long.MaxValue);
        builder.Append(new string('b', builder.Free));
        builder.AppendHex(int.MaxValue);
        builder.AppendHex(0);
        builder.Append(-42L);

        var text = Encoding.ASCII.GetString(builder.Written.Span);
        Assert.EndsWith("b7fffffff0-42", text, StringComparison.Ordinal);
        Assert.Contains("a" + long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture) + "b", text, StringComparison.Ordinal);
        builder.ReturnBuffer();
    }

    [Fact]
    public void GetSpan_ThenAdvance_AppendsWhatWasWritten()
    {
        var builder = new HeadBuilder(16);
        builder.Append("0123456789"u8);
        var span = builder.GetSpan(100);
        Assert.True(span.Length >= 100);
        "abc"u8.CopyTo(span);
        builder.Advance(3);

        Assert.Equal("0123456789abc", Encoding.ASCII.GetString(builder.Written.Span));
    }

    [Fact]
    public void AppendString_NonAscii_IsWrittenAsLatin1()
    {
        var builder = new HeadBuilder(4);
        builder.AppendHeader("X-Name", "caf\u00e9");

        Assert.Equal(new byte[] { (byte)'c', (byte)'a', (byte)'f', 0xE9 }, builder.Written.Span[^6..^2].ToArray());
    }

    [Fact]
    public void Clear_AfterGrowth_StartsOverInTheLargerBuffer()
    {
        var builder = new HeadBuilder(8);
        builder.Append(new string('x', 1000));
        var grown = builder.Buffer;

        builder.Clear();
        builder.Append("y");

        Assert.Same(grown, builder.Buffer);
        Assert.Equal("y", Encoding.ASCII.GetString(builder.Written.Span));
    }

    private static string CultureInfoInvariant(FormattableString text) => FormattableString.Invariant(text);
}
