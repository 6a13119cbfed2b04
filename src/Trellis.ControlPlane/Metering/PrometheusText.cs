using System.Globalization;
using System.Text;

namespace Trellis.ControlPlane.Metering;

/// <summary>
/// Writes the Prometheus text exposition format, version 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/): per family one <c># HELP</c> and
/// one <c># TYPE</c> line, then its samples, all contiguous; label values escape <c>\</c>,
/// <c>"</c> and newline; HELP text escapes <c>\</c> and newline; histograms as cumulative
/// <c>_bucket{le=…}</c> series ending in <c>le="+Inf"</c> (equal to <c>_count</c>), then
/// <c>_sum</c> and <c>_count</c>. Families are written whole, so a family with no series yet still
/// says what it is.
/// </summary>
public sealed class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _text = new();

    public void Family(string name, string type, string help)
    {
        _text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(help)).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }

    public void Sample(string name, IReadOnlyList<(string Name, string Value)> labels, double value)
    {
        _text.Append(name);
        Labels(labels, null);
        _text.Append(' ').Append(Number(value)).Append('\n');
    }

    /// <summary>A histogram's series; <paramref name="counts"/> holds per-bucket (not cumulative) counts, one per bound plus +Inf.</summary>
    public void Histogram(string name, IReadOnlyList<(string Name, string Value)> labels, IReadOnlyList<double> bounds, IReadOnlyList<long> counts, double sum)
    {
        long cumulative = 0;
        for (var i = 0; i <= bounds.Count; i++)
        {
            cumulative += i < counts.Count ? counts[i] : 0;
            _text.Append(name).Append("_bucket");
            Labels(labels, i < bounds.Count ? Number(bounds[i]) : "+Inf");
            _text.Append(' ').Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        Sample(name + "_sum", labels, sum);
        Sample(name + "_count", labels, cumulative);
    }

    public override string ToString() => _text.ToString();

    /// <summary>Go's <c>strconv.FormatFloat(v, 'g', -1, 64)</c> in spirit: shortest round-trip text, and the spec's spellings of the specials.</summary>
    public static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    public static string EscapeLabelValue(string value)
    {
        if (value.AsSpan().IndexOfAny('\\', '"', '\n') < 0)
        {
            return value;
        }

        var sb = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            sb.Append(c switch
            {
                '\\' => @"\\",
                '"' => "\\\"",
                '\n' => @"\n",
                _ => c.ToString(),
            });
        }

        return sb.ToString();
    }

    private static string EscapeHelp(string help) => help.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("\n", @"\n", StringComparison.Ordinal);

    private void Labels(IReadOnlyList<(string Name, string Value)> labels, string? le)
    {
        if (labels.Count == 0 && le is null)
        {
            return;
        }

        _text.Append('{');
        var first = true;
        foreach (var (name, value) in labels)
        {
            _text.Append(first ? "" : ",").Append(name).Append("=\"").Append(EscapeLabelValue(value)).Append('"');
            first = false;
        }

        if (le is not null)
        {
            _text.Append(first ? "" : ",").Append("le=\"").Append(le).Append('"');
        }

        _text.Append('}');
    }
}
