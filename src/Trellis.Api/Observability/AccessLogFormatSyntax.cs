using System.Globalization;
using System.Text;

namespace Trellis.Api.Observability;

public enum FormatTokenKind : byte
{
    Literal,
    Field,
    Request,
    Response,
}

/// <summary>One piece of a format: literal text, a command operator (<c>%DURATION%</c>), or a header (<c>%REQ(H?ALT):LEN%</c>).</summary>
/// <param name="Name">The literal text, the operator's name, or the header (lower case).</param>
/// <param name="Numeric">Written as a JSON number in a JSON format.</param>
public readonly record struct FormatToken(FormatTokenKind Kind, string? Name, string? Fallback, int Limit, bool Numeric = false);

/// <summary>
/// The syntax of an Envoy access-log format string
/// (https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage): the command operators
/// Trellis writes. Both the validation of the mesh configuration and the proxy read formats through it, so a format
/// accepted at apply is one the proxy can write.
/// </summary>
public static class AccessLogFormatSyntax
{
    private static readonly HashSet<string> Operators = new(StringComparer.Ordinal)
    {
        "START_TIME", "PROTOCOL", "RESPONSE_CODE", "RESPONSE_FLAGS", "RESPONSE_CODE_DETAILS", "CONNECTION_TERMINATION_DETAILS",
        "UPSTREAM_TRANSPORT_FAILURE_REASON", "BYTES_RECEIVED", "BYTES_SENT", "DURATION", "UPSTREAM_HOST", "UPSTREAM_CLUSTER",
        "UPSTREAM_CLUSTER_RAW", "UPSTREAM_LOCAL_ADDRESS", "DOWNSTREAM_LOCAL_ADDRESS", "DOWNSTREAM_REMOTE_ADDRESS",
        "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", "REQUESTED_SERVER_NAME", "ROUTE_NAME", "TRACE_ID", "UPSTREAM_SERVICE_TIME",
    };

    /// <summary>
    /// Envoy's <c>%DYNAMIC_METADATA(envoy.common:access_log_hint)%</c>: <c>true</c> for a request an AUDIT
    /// AuthorizationPolicy matched (Envoy's RBAC filter with action LOG sets it), else <c>-</c>. The one dynamic metadata
    /// key Trellis writes.
    /// </summary>
    public const string AccessLogHint = "DYNAMIC_METADATA(envoy.common:access_log_hint)";

    /// <summary>The tokens of <paramref name="format"/>; null and <paramref name="error"/> when an operator is unknown or malformed.</summary>
    public static FormatToken[]? Tokenize(string format, out string? error)
    {
        error = null;
        var tokens = new List<FormatToken>();
        var literal = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%')
            {
                literal.Append(format[i]);
                continue;
            }

            var end = format.IndexOf('%', i + 1);
            if (end < 0)
            {
                error = $"unterminated command operator at position {i}";
                return null;
            }

            if (end == i + 1)
            {
                literal.Append('%'); // %% is a literal percent sign
                i = end;
                continue;
            }

            if (literal.Length > 0)
            {
                tokens.Add(new FormatToken(FormatTokenKind.Literal, literal.ToString(), null, 0));
                literal.Clear();
            }

            var token = Operator(format[(i + 1)..end], out error);
            if (token is null)
            {
                return null;
            }

            tokens.Add(token.Value);
            i = end;
        }

        if (literal.Length > 0)
        {
            tokens.Add(new FormatToken(FormatTokenKind.Literal, literal.ToString(), null, 0));
        }

        return [.. tokens];
    }

    /// <summary><c>NAME</c>, <c>REQ(H?ALT):LEN</c> or <c>RESP(H):LEN</c> (the value cut to LEN characters).</summary>
    private static FormatToken? Operator(string text, out string? error)
    {
        error = null;
        var open = text.IndexOf('(', StringComparison.Ordinal);
        if (open < 0)
        {
            if (!Operators.Contains(text))
            {
                error = $"unknown command operator %{text}%";
                return null;
            }

            return new FormatToken(FormatTokenKind.Field, text, null, 0, text is "RESPONSE_CODE" or "BYTES_RECEIVED" or "BYTES_SENT" or "DURATION");
        }

        if (text == AccessLogHint)
        {
            return new FormatToken(FormatTokenKind.Field, AccessLogHint, null, 0);
        }

        var close = text.IndexOf(')', open);
        var name = text[..open];
        if (close < 0 || name is not ("REQ" or "RESP"))
        {
            error = $"unknown command operator %{text}%";
            return null;
        }

        var header = text[(open + 1)..close];
        var question = header.IndexOf('?', StringComparison.Ordinal);
        var primary = (question < 0 ? header : header[..question]).ToLowerInvariant();
        var fallback = question < 0 ? null : header[(question + 1)..].ToLowerInvariant();
        if (primary.Length == 0 || fallback is { Length: 0 })
        {
            error = $"empty header name in %{text}%";
            return null;
        }

        var limit = 0;
        var suffix = text[(close + 1)..];
        if (suffix.Length > 0 && (suffix[0] != ':' || !int.TryParse(suffix.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit == 0))
        {
            error = $"bad length limit in %{text}% (expected :N)";
            return null;
        }

        var numeric = primary == "x-envoy-upstream-service-time";
        return new FormatToken(name == "REQ" ? FormatTokenKind.Request : FormatTokenKind.Response, primary, fallback, limit, numeric);
    }
}
