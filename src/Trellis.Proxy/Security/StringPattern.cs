namespace Trellis.Proxy.Security;

/// <summary>
/// An AuthorizationPolicy string value: <c>*</c> (any non-empty value), <c>prefix*</c>, <c>*suffix</c> or an exact
/// value, as istiod turns them into Envoy string matchers.
/// </summary>
internal readonly struct StringPattern
{
    private readonly string _text;
    private readonly Kind _kind;
    private readonly bool _ignoreCase;

    public StringPattern(string value, bool ignoreCase = false)
    {
        _ignoreCase = ignoreCase;
        (_kind, _text) = value switch
        {
            "*" => (Kind.Present, ""),
            _ when value.Length > 1 && value[^1] == '*' => (Kind.Prefix, value[..^1]),
            _ when value.Length > 1 && value[0] == '*' => (Kind.Suffix, value[1..]),
            _ => (Kind.Exact, value),
        };
    }

    private enum Kind : byte
    {
        Exact,
        Prefix,
        Suffix,
        Present,
    }

    public bool Matches(ReadOnlySpan<char> value)
    {
        var comparison = _ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return _kind switch
        {
            Kind.Present => !value.IsEmpty,
            Kind.Prefix => value.StartsWith(_text, comparison),
            Kind.Suffix => value.EndsWith(_text, comparison),
            _ => value.Equals(_text, comparison),
        };
    }

    public static StringPattern[] All(IReadOnlyList<string> values, bool ignoreCase = false) =>
        values.Select(v => new StringPattern(v, ignoreCase)).ToArray();

    public static bool Any(StringPattern[] patterns, ReadOnlySpan<char> value)
    {
        foreach (var p in patterns)
        {
            if (p.Matches(value))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A positive list (empty: no constraint) and a negative one (empty: no constraint), both over one value.</summary>
    public static bool Field(StringPattern[] values, StringPattern[] notValues, ReadOnlySpan<char> value) =>
        (values.Length == 0 || Any(values, value)) && (notValues.Length == 0 || !Any(notValues, value));
}
