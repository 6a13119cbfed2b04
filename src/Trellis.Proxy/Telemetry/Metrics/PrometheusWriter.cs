using System.Globalization;
using System.Text;

namespace Trellis.Proxy.Telemetry.Metrics;

/// <summary>
/// The Prometheus text exposition format, version 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/):
/// per family one <c># HELP</c> and one <c># TYPE</c> line, then its samples, contiguous; label values escape
/// <c>\</c>, <c>"</c> and newline; histograms as cumulative <c>_bucket{le=…}</c> series ending in <c>le="+Inf"</c>
/// (equal to <c>_count</c>), then <c>_sum</c> and <c>_count</c>. Written at scrape time, never on a request.
/// </summary>
internal sealed class PrometheusWriter
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _text;

    public PrometheusWriter(StringBuilder? text = null) => _text = text ?? new StringBuilder();

    public void Family(string name, string type, string help)
    {
        _text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }

    /// <summary>One sample; <paramref name="labels"/> is the text between the braces (already escaped), empty for none.</summary>
    public void Sample(string name, string labels, long value)
    {
        _text.Append(name);
        if (labels.Length > 0)
        {
            _text.Append('{').Append(labels).Append('}');
        }

        _text.Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    public void Sample(string name, string labels, double value)
    {
        _text.Append(name);
        if (labels.Length > 0)
        {
            _text.Append('{').Append(labels).Append('}');
        }

        _text.Append(' ').Append(Number(value)).Append('\n');
    }

    /// <summary>A histogram's series from per-bucket counts (one per bound, then +Inf) and the sum in recorded units.</summary>
    public void Histogram(string name, string labels, HistogramLayout layout, ReadOnlySpan<long> counts, long sum)
    {
        long cumulative = 0;
        var separator = labels.Length > 0 ? "," : string.Empty;
        for (var i = 0; i < counts.Length; i++)
        {
            cumulative += counts[i];
            _text.Append(name).Append("_bucket{").Append(labels).Append(separator).Append("le=\"")
                .Append(i < layout.Labels.Length ? layout.Labels[i] : "+Inf").Append("\"} ")
                .Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        Sample(name + "_sum", labels, sum / layout.Scale);
        Sample(name + "_count", labels, cumulative);
    }

    /// <summary>Appends <c>name="value"</c> (with a leading comma unless first) to a label text being built.</summary>
    public static void Label(StringBuilder labels, string name, string value)
    {
        if (labels.Length > 0)
        {
            labels.Append(',');
        }

        labels.Append(name).Append("=\"");
        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => labels.Append("\\\\"),
                '"' => labels.Append("\\\""),
                '\n' => labels.Append("\\n"),
                _ => labels.Append(c),
            };
        }

        labels.Append('"');
    }

    public override string ToString() => _text.ToString();

    /// <summary>Shortest round-trip text, and the format's spellings of the special values.</summary>
    public static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };
}
