using System.Globalization;
using System.Text;

namespace Trellis.Api.Observability;

/// <summary>The request and response attributes a filter reads (Envoy's CEL attribute names).</summary>
public enum LogAttribute : byte
{
    ResponseCode,
    RequestMethod,
    RequestPath,
    RequestUrlPath,
    RequestHost,
    RequestHeader,
}

/// <summary>What a filter is evaluated against: one finished request.</summary>
public interface ILogAttributes
{
    int ResponseCode { get; }

    /// <summary>A string attribute; <paramref name="header"/> names the header for <see cref="LogAttribute.RequestHeader"/>. Null when absent.</summary>
    string? Get(LogAttribute attribute, string? header);
}

/// <summary>
/// The subset of CEL that Trellis evaluates in a Telemetry <c>accessLogging[].filter.expression</c>, as Envoy's CEL
/// filter reads it: comparisons of <c>response.code</c> with integers (<c>== != &lt; &lt;= &gt; &gt;=</c>), of
/// <c>request.method</c>, <c>request.path</c>, <c>request.url_path</c>, <c>request.host</c> and
/// <c>request.headers['name']</c> with strings (<c>== !=</c>, and the <c>startsWith</c>, <c>endsWith</c>, <c>contains</c>
/// methods), joined with <c>&amp;&amp;</c>, <c>||</c>, <c>!</c> and parentheses. Anything else is refused at apply with the
/// position, rather than accepted and ignored. A missing header makes its comparison false (CEL's error, which Envoy
/// treats as "do not log").
/// </summary>
public sealed class LogFilterExpression
{
    private readonly Node _root;

    private LogFilterExpression(Node root, string text, IReadOnlyList<string> headers)
    {
        _root = root;
        Text = text;
        Headers = headers;
    }

    public string Text { get; }

    /// <summary>The request headers the expression reads (lower case): captured while the request head is there.</summary>
    public IReadOnlyList<string> Headers { get; }

    public static LogFilterExpression? Parse(string text, out string? error)
    {
        var parser = new Parser(text);
        var root = parser.Parse(out error);
        return root is null ? null : new LogFilterExpression(root, text, parser.Headers.Distinct(StringComparer.Ordinal).ToList());
    }

    public bool Matches(ILogAttributes request) => _root.Eval(request);

    private abstract record Node
    {
        public abstract bool Eval(ILogAttributes a);
    }

    private sealed record Const(bool Value) : Node
    {
        public override bool Eval(ILogAttributes a) => Value;
    }

    private sealed record Not(Node Inner) : Node
    {
        public override bool Eval(ILogAttributes a) => !Inner.Eval(a);
    }

    private sealed record And(Node Left, Node Right) : Node
    {
        public override bool Eval(ILogAttributes a) => Left.Eval(a) && Right.Eval(a);
    }

    private sealed record Or(Node Left, Node Right) : Node
    {
        public override bool Eval(ILogAttributes a) => Left.Eval(a) || Right.Eval(a);
    }

    private sealed record CodeCompare(string Op, long Value) : Node
    {
        public override bool Eval(ILogAttributes a) => Op switch
        {
            "==" => a.ResponseCode == Value,
            "!=" => a.ResponseCode != Value,
            "<" => a.ResponseCode < Value,
            "<=" => a.ResponseCode <= Value,
            ">" => a.ResponseCode > Value,
            _ => a.ResponseCode >= Value,
        };
    }

    private sealed record StringTest(LogAttribute Attribute, string? Header, string Op, string Value) : Node
    {
        public override bool Eval(ILogAttributes a) => a.Get(Attribute, Header) is { } actual && Op switch
        {
            "==" => string.Equals(actual, Value, StringComparison.Ordinal),
            "!=" => !string.Equals(actual, Value, StringComparison.Ordinal),
            "startsWith" => actual.StartsWith(Value, StringComparison.Ordinal),
            "endsWith" => actual.EndsWith(Value, StringComparison.Ordinal),
            _ => actual.Contains(Value, StringComparison.Ordinal),
        };
    }

    private sealed class Parser(string text)
    {
        private int _pos;
        private string? _error;

        public List<string> Headers { get; } = [];

        public Node? Parse(out string? error)
        {
            var node = Or();
            Skip();
            if (_error is null && _pos < text.Length)
            {
                Fail($"unexpected '{text[_pos]}'");
            }

            error = _error;
            return _error is null ? node : null;
        }

        private Node? Or()
        {
            var left = And();
            while (left is not null && Eat("||"))
            {
                var right = And();
                left = right is null ? null : new Or(left, right);
            }

            return left;
        }

        private Node? And()
        {
            var left = Unary();
            while (left is not null && Eat("&&"))
            {
                var right = Unary();
                left = right is null ? null : new And(left, right);
            }

            return left;
        }

        private Node? Unary()
        {
            if (Peek("!=") is false && Eat("!"))
            {
                var inner = Unary();
                return inner is null ? null : new Not(inner);
            }

            if (Eat("("))
            {
                var inner = Or();
                return inner is not null && Expect(")") ? inner : null;
            }

            if (Word("true"))
            {
                return new Const(true);
            }

            return Word("false") ? new Const(false) : Comparison();
        }

        private Node? Comparison()
        {
            Skip();
            var start = _pos;
            var (attribute, header) = Attribute();
            if (attribute is null)
            {
                return null;
            }

            if (Eat("."))
            {
                var method = Identifier();
                if (attribute == LogAttribute.ResponseCode || method is not ("startsWith" or "endsWith" or "contains"))
                {
                    return Fail($"unsupported method '{method}' (startsWith, endsWith and contains on string attributes are)", start);
                }

                if (!Expect("(") || StringLiteral() is not { } argument || !Expect(")"))
                {
                    return Fail($"{method} takes one string literal", start);
                }

                return new StringTest(attribute.Value, header, method, argument);
            }

            var op = Operator();
            if (op is null)
            {
                return Fail("expected a comparison operator (== != < <= > >=)");
            }

            Skip();
            if (attribute == LogAttribute.ResponseCode)
            {
                return Integer() is { } value ? new CodeCompare(op, value) : Fail("response.code is compared with an integer");
            }

            if (op is not ("==" or "!="))
            {
                return Fail($"strings are compared with == or !=, not {op}");
            }

            return StringLiteral() is { } literal ? new StringTest(attribute.Value, header, op, literal) : Fail("a string attribute is compared with a string literal");
        }

        private (LogAttribute?, string?) Attribute()
        {
            var start = _pos;
            var name = Identifier();
            while (_pos < text.Length && text[_pos] == '.' && _pos + 1 < text.Length && char.IsLetter(text[_pos + 1]) && name is "request" or "response")
            {
                _pos++;
                name += "." + Identifier();
            }

            LogAttribute? attribute = name switch
            {
                "response.code" => LogAttribute.ResponseCode,
                "request.method" => LogAttribute.RequestMethod,
                "request.path" => LogAttribute.RequestPath,
                "request.url_path" => LogAttribute.RequestUrlPath,
                "request.host" => LogAttribute.RequestHost,
                "request.headers" => LogAttribute.RequestHeader,
                _ => null,
            };
            if (attribute is null)
            {
                Fail($"unsupported attribute '{name}' (response.code, request.method, request.path, request.url_path, request.host, request.headers['name'] are)", start);
                return (null, null);
            }

            if (attribute != LogAttribute.RequestHeader)
            {
                return (attribute, null);
            }

            if (!Expect("[") || StringLiteral() is not { } header || !Expect("]"))
            {
                Fail("request.headers is indexed with a string literal: request.headers['name']", start);
                return (null, null);
            }

            var lower = header.ToLowerInvariant();
            Headers.Add(lower);
            return (attribute, lower);
        }

        private string Identifier()
        {
            Skip();
            var start = _pos;
            while (_pos < text.Length && (char.IsLetterOrDigit(text[_pos]) || text[_pos] == '_'))
            {
                _pos++;
            }

            return text[start.._pos];
        }

        private string? Operator()
        {
            foreach (var op in (string[])["==", "!=", "<=", ">=", "<", ">"])
            {
                if (Eat(op))
                {
                    return op;
                }
            }

            return null;
        }

        private long? Integer()
        {
            var start = _pos;
            while (_pos < text.Length && (char.IsAsciiDigit(text[_pos]) || (_pos == start && text[_pos] == '-')))
            {
                _pos++;
            }

            return long.TryParse(text.AsSpan(start, _pos - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : null;
        }

        private string? StringLiteral()
        {
            Skip();
            if (_pos >= text.Length || text[_pos] is not ('\'' or '"'))
            {
                return null;
            }

            var quote = text[_pos++];
            var value = new StringBuilder();
            while (_pos < text.Length && text[_pos] != quote)
            {
                if (text[_pos] == '\\' && _pos + 1 < text.Length)
                {
                    _pos++;
                }

                value.Append(text[_pos++]);
            }

            if (_pos >= text.Length)
            {
                Fail("unterminated string literal");
                return null;
            }

            _pos++;
            return value.ToString();
        }

        private bool Word(string word)
        {
            Skip();
            var end = _pos + word.Length;
            if (string.CompareOrdinal(text, _pos, word, 0, word.Length) == 0 && (end >= text.Length || !char.IsLetterOrDigit(text[end])))
            {
                _pos = end;
                return true;
            }

            return false;
        }

        private bool? Peek(string token)
        {
            Skip();
            return string.CompareOrdinal(text, _pos, token, 0, token.Length) == 0;
        }

        private bool Eat(string token)
        {
            if (Peek(token) is true)
            {
                _pos += token.Length;
                return true;
            }

            return false;
        }

        private bool Expect(string token)
        {
            if (Eat(token))
            {
                return true;
            }

            Fail($"expected '{token}'");
            return false;
        }

        private void Skip()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos]))
            {
                _pos++;
            }
        }

        private Node? Fail(string message, int? at = null)
        {
            _error ??= $"{message} at position {(at ?? _pos) + 1}";
            return null;
        }
    }
}
