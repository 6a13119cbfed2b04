using System.Diagnostics;
using Trellis.Api.Metering;
using Trellis.ControlPlane.Metering;

namespace Trellis.ControlPlane.Tests.Metering;

public sealed class PrometheusTextTests
{
    [Theory]
    [InlineData("plain", "plain")]
    [InlineData(@"a\b", @"a\\b")]
    [InlineData("say \"hi\"", "say \\\"hi\\\"")]
    [InlineData("two\nlines", @"two\nlines")]
    [InlineData("é ünïcode", "é ünïcode")]
    public void EscapeLabelValue_SpecialCharacters_EscapedAsTheSpecSays(string value, string expected)
    {
        Assert.Equal(expected, PrometheusText.EscapeLabelValue(value));
    }

    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(12.0, "12")]
    [InlineData(0.0005, "0.0005")]
    [InlineData(1.5e-7, "1.5E-07")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(double.NaN, "NaN")]
    public void Number_Values_GoParsable(double value, string expected)
    {
        Assert.Equal(expected, PrometheusText.Number(value));
    }

    [Fact]
    public void Histogram_PerBucketCounts_CumulativeBucketsInfSumCount()
    {
        var text = new PrometheusText();
        text.Family("x_seconds", "histogram", "A help with a \\ and a\nnewline.");
        text.Histogram("x_seconds", [("rev", "a\"b")], [0.1, 1], [2, 0, 3], 4.5);

        Assert.Equal(
            """
            # HELP x_seconds A help with a \\ and a\nnewline.
            # TYPE x_seconds histogram
            x_seconds_bucket{rev="a\"b",le="0.1"} 2
            x_seconds_bucket{rev="a\"b",le="1"} 2
            x_seconds_bucket{rev="a\"b",le="+Inf"} 5
            x_seconds_sum{rev="a\"b"} 4.5
            x_seconds_count{rev="a\"b"} 5

            """.ReplaceLineEndings("\n"),
            text.ToString());
    }

    [Fact]
    public void Render_Usage_PassesPromtoolCheckMetrics()
    {
        var output = UsageMetrics.Render(UsageLedgerTests.SampleView());

        Assert.Contains("trellis_revision_requests_total{namespace=\"default\",service=\"hello\",configuration=\"hello\",revision=\"hello-00001\"} 7", output, StringComparison.Ordinal);
        Assert.Contains("trellis_revision_cold_starts_total{namespace=\"default\",service=\"hello\",configuration=\"hello\",revision=\"hello-00001\"} 1", output, StringComparison.Ordinal);
        Assert.Contains("trellis_instance_cpu_seconds_total{namespace=\"default\",service=\"hello\",configuration=\"hello\",revision=\"hello-00001\",instance=\"b\"} 0.25", output, StringComparison.Ordinal);

        // promtool (Debian package prometheus; ./scripts/test installs it) lints the exposition.
        var start = new ProcessStartInfo("promtool", ["check", "metrics"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var promtool = Process.Start(start)!;
        promtool.StandardInput.Write(output);
        promtool.StandardInput.Close();
        var said = promtool.StandardOutput.ReadToEnd() + promtool.StandardError.ReadToEnd();
        promtool.WaitForExit();
        Assert.True(promtool.ExitCode == 0 && said.Trim().Length == 0, $"promtool check metrics: exit {promtool.ExitCode}\n{said}\n---\n{output}");
    }
}
