using System.Globalization;

namespace Trellis.Api;

/// <summary>
/// Duration strings as Istio and the Gateway API write them: Go's <c>time.ParseDuration</c> syntax without a sign,
/// one or more number+unit pairs (<c>10s</c>, <c>0.5s</c>, <c>1.5ms</c>, <c>1h30m</c>) with units ns, us, µs, ms, s, m, h.
/// </summary>
public static class Durations
{
    public static bool TryParse(string s, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrEmpty(s))
        {
            return false;
        }

        // Ticks are 100ns, so sub-tick parts (1ns) are summed in nanoseconds and rounded once at the end.
        decimal nanos = 0;
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }

            if (i == start || !decimal.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            var unitStart = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.')
            {
                i++;
            }

            decimal? scale = s.AsSpan(unitStart, i - unitStart) switch
            {
                "ns" => 1m,
                "us" or "µs" or "μs" => 1_000m,
                "ms" => 1_000_000m,
                "s" => 1_000_000_000m,
                "m" => 60_000_000_000m,
                "h" => 3_600_000_000_000m,
                _ => null,
            };
            if (scale is null)
            {
                return false;
            }

            try
            {
                nanos += number * scale.Value;
            }
            catch (OverflowException)
            {
                return false;
            }
        }

        var ticks = Math.Round(nanos / 100m);
        if (ticks > TimeSpan.MaxValue.Ticks)
        {
            return false;
        }

        value = TimeSpan.FromTicks((long)ticks);
        return true;
    }
}
