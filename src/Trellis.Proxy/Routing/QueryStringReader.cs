namespace Trellis.Proxy.Routing;

/// <summary>
/// Finds one query parameter in a raw query string without parsing it into a collection, so that
/// routes with query conditions do not allocate for every request.
/// </summary>
internal static class QueryStringReader
{
    /// <summary>Returns the (decoded) value of the first parameter named <paramref name="name"/>.</summary>
    public static bool TryGetValue(string? query, string name, out ReadOnlySpan<char> value)
    {
        value = default;
        if (string.IsNullOrEmpty(query))
        {
            return false;
        }

        var rest = query.AsSpan(query[0] == '?' ? 1 : 0);
        while (!rest.IsEmpty)
        {
            var amp = rest.IndexOf('&');
            var pair = amp >= 0 ? rest[..amp] : rest;
            rest = amp >= 0 ? rest[(amp + 1)..] : [];

            var eq = pair.IndexOf('=');
            var key = eq >= 0 ? pair[..eq] : pair;
            if (key.Equals(name, StringComparison.Ordinal))
            {
                var raw = eq >= 0 ? pair[(eq + 1)..] : [];
                // Decoding allocates, so only values that are actually encoded pay for it.
                value = raw.IndexOfAny('%', '+') >= 0
                    ? Uri.UnescapeDataString(raw.ToString().Replace('+', ' '))
                    : raw;
                return true;
            }
        }

        return false;
    }
}
