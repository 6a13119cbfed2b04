using System.Text.RegularExpressions;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Routing;

/// <summary>A compiled Istio <c>StringMatch</c>: exact, prefix, full-match regex, or presence.</summary>
internal sealed class StringMatcher
{
    private readonly StringMatchKind _kind;
    private readonly string _value;
    private readonly StringComparison _comparison;
    private readonly Regex? _regex;

    private StringMatcher(StringMatchKind kind, string value, StringComparison comparison, Regex? regex)
    {
        _kind = kind;
        _value = value;
        _comparison = comparison;
        _regex = regex;
    }

    public StringMatchKind Kind => _kind;

    /// <summary>Length of the literal prefix; used by prefix rewrites.</summary>
    public int PrefixLength => _kind == StringMatchKind.Prefix ? _value.Length : 0;

    public static StringMatcher Create(StringMatchConfig config, bool ignoreCase, TimeSpan regexTimeout)
    {
        var comparison = ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var regex = config.Kind == StringMatchKind.Regex
            ? new Regex(FullMatchPattern(config.Value), RegexOptionsFor(ignoreCase, compiled: true), regexTimeout)
            : null;
        return new StringMatcher(config.Kind, config.Value, comparison, regex);
    }

    /// <summary>
    /// Istio (RE2) regexes must match the whole input, so the pattern is anchored; <c>\z</c> rather
    /// than <c>$</c> because <c>$</c> would also accept a trailing newline.
    /// </summary>
    public static string FullMatchPattern(string pattern) => "^(?:" + pattern + ")\\z";

    public static RegexOptions RegexOptionsFor(bool ignoreCase, bool compiled) =>
        RegexOptions.CultureInvariant
        | (compiled ? RegexOptions.Compiled : RegexOptions.None)
        | (ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None);

    public bool IsMatch(ReadOnlySpan<char> input)
    {
        switch (_kind)
        {
            case StringMatchKind.Exact:
                return input.Equals(_value, _comparison);
            case StringMatchKind.Prefix:
                return input.StartsWith(_value, _comparison);
            case StringMatchKind.Regex:
                try
                {
                    return _regex!.IsMatch(input);
                }
                catch (RegexMatchTimeoutException)
                {
                    // A pathological input must not take the worker down; it simply does not match.
                    return false;
                }
            default:
                return true;
        }
    }
}
