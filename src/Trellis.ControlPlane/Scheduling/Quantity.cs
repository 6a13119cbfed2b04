using System.Globalization;

namespace Trellis.ControlPlane.Scheduling;

/// <summary>
/// Kubernetes resource quantities as pod specs write them: CPU in cores or millicores (<c>500m</c>,
/// <c>0.5</c>, <c>2</c>), memory in bytes with decimal or binary suffixes (<c>128Mi</c>, <c>1G</c>, <c>1e9</c>).
/// </summary>
public static class Quantity
{
    private static readonly (string Suffix, double Factor)[] Suffixes =
    [
        ("Ki", 1024d), ("Mi", 1024d * 1024), ("Gi", 1024d * 1024 * 1024), ("Ti", 1024d * 1024 * 1024 * 1024),
        ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("m", 1e-3),
    ];

    /// <summary>CPU in millicores, or null when the text is not a quantity.</summary>
    public static long? Millicores(string text) => Parse(text) is { } cores ? (long)Math.Ceiling(cores * 1000 - 1e-9) : null;

    /// <summary>Memory in bytes, or null when the text is not a quantity.</summary>
    public static long? Bytes(string text) => Parse(text) is { } bytes ? (long)Math.Ceiling(bytes - 1e-9) : null;

    private static double? Parse(string text)
    {
        text = text.Trim();
        var factor = 1d;
        foreach (var (suffix, f) in Suffixes)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal))
            {
                factor = f;
                text = text[..^suffix.Length];
                break;
            }
        }

        return double.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var value) && value >= 0 && double.IsFinite(value)
            ? value * factor
            : null;
    }
}
