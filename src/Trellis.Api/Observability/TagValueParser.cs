using System.Globalization;
using System.Text;

namespace Trellis.Api.Observability;

/// <summary>
/// Parses a <see cref="TagValueExpression"/>: a recursive descent over CEL's precedence (conditional, <c>||</c>,
/// <c>&amp;&amp;</c>, comparison, unary, member), accepting only the attributes and functions Trellis evaluates and
/// reporting the first thing it does not with its position.
/// </summary>
internal sealed class TagValueParser
{
    /// <summary>Peer fields, as Istio's peer metadata attributes name them (with the older <c>workload_name</c> and <c>cluster_id</c>).</summary>
    private static readonly string[] PeerFields = ["app", "version", "service", "revision", "name", "namespace", "workload", "workload_name", "cluster", "cluster_id", "labels"];

    /// <summary>The workload labels a peer's metrics know (the ones Istio's labels are derived from).</summary>
    internal static readonly string[] PeerLabelKeys =
        ["app", "version", "service.istio.io/canonical-name", "service.istio.io/canonical-revision", "app.kubernetes.io/name", "app.kubernetes.io/version"];

    private static readonly string[] NodeKeys = ["NAME", "NAMESPACE", "WORKLOAD_NAME", "CLUSTER_ID", "LABELS"];

    private readonly string _text;
    private readonly List<TagAttributeRef> _attributes = [];
    private int _pos;
    private string? _error;

    private TagValueParser(string text) => _text = text;

    public static TagValueExpression? Parse(string text, out string? error)
    {
        var parser = new TagValueParser(text);
        var root = parser.Conditional();
        parser.Skip();
        if (parser._error is null && root is not null && parser._pos < text.Length)
        {
            parser.Fail(text[parser._pos] == '|' && !parser.Peek("||")
                ? "the '|' (first non-empty) operator is Mixer's, not CEL's: write has(x) ? x : 'default'"
                : $"unexpected '{text[parser._pos]}'");
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            parser._error = "an expression is required at position 1";
        }

        error = parser._error;
        return error is null ? new TagValueExpression(root!, text, parser._attributes.Distinct().ToList()) : null;
    }

    private TagNode? Conditional()
    {
        var condition = Or();
        if (condition is null || !Eat("?"))
        {
            return condition;
        }

        var then = Conditional();
        if (then is null || !Expect(":"))
        {
            return null;
        }

        var otherwise = Conditional();
        return otherwise is null ? null : new TagConditional(condition, then, otherwise);
    }

    private TagNode? Or()
    {
        var left = And();
        while (left is not null && Eat("||"))
        {
            var right = And();
            left = right is null ? null : new TagLogic(false, left, right);
        }

        return left;
    }

    private TagNode? And()
    {
        var left = Comparison();
        while (left is not null && Eat("&&"))
        {
            var right = Comparison();
            left = right is null ? null : new TagLogic(true, left, right);
        }

        return left;
    }

    private TagNode? Comparison()
    {
        var left = Unary();
        if (left is null)
        {
            return null;
        }

        foreach (var op in (string[])["==", "!=", "<=", ">=", "<", ">"])
        {
            if (Eat(op))
            {
                var right = Unary();
                return right is null ? null : new TagCompare(op, left, right);
            }
        }

        if (Word("in"))
        {
            // 'name' in request.headers: whether the request has the header.
            Skip();
            var at = _pos;
            if (left is not TagLiteral { Value.Kind: TagValueKind.Text } name || !Word("request") || !Eat(".") || !Word("headers"))
            {
                return Fail("'in' is supported as 'header-name' in request.headers", at);
            }

            var header = new TagAttributeRef(TagAttribute.RequestHeader, Key: name.Value.Text!.ToLowerInvariant());
            _attributes.Add(header);
            return new TagHas(header);
        }

        return left;
    }

    private TagNode? Unary()
    {
        if (!Peek("!=") && Eat("!"))
        {
            var inner = Unary();
            return inner is null ? null : new TagNot(inner);
        }

        return Member();
    }

    /// <summary>A primary followed by string methods: <c>request.url_path.startsWith('/api')</c>.</summary>
    private TagNode? Member()
    {
        var target = Primary();
        while (target is not null && Peek(".") && !Peek(".."))
        {
            var at = _pos;
            _pos++;
            var method = Identifier();
            if (method is not ("startsWith" or "endsWith" or "contains"))
            {
                return Fail($"unsupported method '{method}' (startsWith, endsWith and contains are)", at + 1);
            }

            if (!Expect("("))
            {
                return null;
            }

            var argument = Conditional();
            target = argument is not null && Expect(")") ? new TagStringMethod(method, target, argument) : null;
        }

        return target;
    }

    private TagNode? Primary()
    {
        Skip();
        if (_pos >= _text.Length)
        {
            return Fail("unexpected end of the expression");
        }

        if (Eat("("))
        {
            var inner = Conditional();
            return inner is not null && Expect(")") ? inner : null;
        }

        var c = _text[_pos];
        if (c is '\'' or '"')
        {
            return StringLiteral() is { } text ? new TagLiteral(TagValue.Of(text)) : null;
        }

        if (char.IsAsciiDigit(c) || (c == '-' && _pos + 1 < _text.Length && char.IsAsciiDigit(_text[_pos + 1])))
        {
            return Integer();
        }

        var start = _pos;
        var name = Identifier();
        switch (name)
        {
            case "true" or "false":
                return new TagLiteral(TagValue.Of(name == "true"));
            case "has":
                return Expect("(") && Attribute() is { } tested && Expect(")") ? new TagHas(tested) : null;
            case "string":
                if (!Expect("("))
                {
                    return null;
                }

                var inner = Conditional();
                return inner is not null && Expect(")") ? new TagToString(inner) : null;
            case "":
                return Fail($"unexpected '{c}'");
        }

        _pos = start;
        return Attribute() is { } attribute ? Read(attribute) : null;
    }

    /// <summary>An attribute reference, checked against what Trellis knows; records it as read.</summary>
    private TagAttributeRef? Attribute()
    {
        Skip();
        var start = _pos;
        var root = Identifier();
        if (root == "filter_state" && Eat("."))
        {
            root = Identifier(); // filter_state.upstream_peer.app is upstream_peer.app
        }

        var attribute = root switch
        {
            "request" => Request(start),
            "response" => Response(start),
            "destination" => Dot() && Identifier() == "port" ? new TagAttributeRef(TagAttribute.DestinationPort) : Unsupported("destination", start),
            "upstream_peer" => Peer(TagAttribute.UpstreamPeer, start),
            "downstream_peer" => Peer(TagAttribute.DownstreamPeer, start),
            "node" => Node(start),
            _ => Unsupported(root, start),
        };
        if (attribute is not null)
        {
            _attributes.Add(attribute);
        }

        return attribute;
    }

    private TagAttributeRef? Request(int start)
    {
        if (!Dot())
        {
            return Unsupported("request", start);
        }

        var field = Identifier();
        if (field == "headers")
        {
            return Index() is { } header ? new TagAttributeRef(TagAttribute.RequestHeader, Key: header.ToLowerInvariant()) : Fail<TagAttributeRef>("request.headers is indexed with a string: request.headers['x-name']", start);
        }

        return field switch
        {
            "host" => new TagAttributeRef(TagAttribute.RequestHost),
            "method" => new TagAttributeRef(TagAttribute.RequestMethod),
            "path" => new TagAttributeRef(TagAttribute.RequestPath),
            "url_path" => new TagAttributeRef(TagAttribute.RequestUrlPath),
            "scheme" => new TagAttributeRef(TagAttribute.RequestScheme),
            "useragent" => new TagAttributeRef(TagAttribute.RequestUserAgent),
            "id" => new TagAttributeRef(TagAttribute.RequestId),
            _ => Unsupported($"request.{field}", start),
        };
    }

    private TagAttributeRef? Response(int start) => Dot() ? Identifier() switch
    {
        "code" => new TagAttributeRef(TagAttribute.ResponseCode),
        "grpc_status" => new TagAttributeRef(TagAttribute.ResponseGrpcStatus),
        var field => Unsupported($"response.{field}", start),
    } : Unsupported("response", start);

    private TagAttributeRef? Peer(TagAttribute side, int start)
    {
        if (!Dot())
        {
            return Unsupported(side == TagAttribute.UpstreamPeer ? "upstream_peer" : "downstream_peer", start);
        }

        var field = Identifier();
        if (!PeerFields.Contains(field))
        {
            return Fail<TagAttributeRef>($"unsupported peer field '{field}' ({string.Join(", ", PeerFields)} are)", start);
        }

        if (field != "labels")
        {
            return new TagAttributeRef(side, field);
        }

        if (Index() is not { } key)
        {
            return Fail<TagAttributeRef>("labels is indexed with a string: upstream_peer.labels['app']", start);
        }

        if (!PeerLabelKeys.Contains(key))
        {
            return Fail<TagAttributeRef>($"the metrics know the peer labels {string.Join(", ", PeerLabelKeys)}, not '{key}'", start);
        }

        // The flatbuffer-era form upstream_peer.labels['app'].value reads the same value.
        var save = _pos;
        if (!(Dot() && Identifier() == "value"))
        {
            _pos = save;
        }

        return new TagAttributeRef(side, field, key);
    }

    private TagAttributeRef? Node(int start)
    {
        if (!Dot() || Identifier() != "metadata" || Index() is not { } key)
        {
            return Fail<TagAttributeRef>("node is read as node.metadata['KEY']", start);
        }

        if (!NodeKeys.Contains(key))
        {
            return Fail<TagAttributeRef>($"unsupported node metadata '{key}' ({string.Join(", ", NodeKeys)} are)", start);
        }

        if (key != "LABELS")
        {
            return new TagAttributeRef(TagAttribute.Node, key);
        }

        if (Index() is not { } label || !PeerLabelKeys.Contains(label))
        {
            return Fail<TagAttributeRef>($"node.metadata['LABELS'] is indexed with one of {string.Join(", ", PeerLabelKeys)}", start);
        }

        return new TagAttributeRef(TagAttribute.Node, key, label);
    }

    private TagRead Read(TagAttributeRef attribute)
    {
        _attributes.Add(attribute);
        return new TagRead(attribute);
    }

    private bool Dot() => Peek(".") && Eat(".");

    /// <summary><c>['key']</c> after an attribute; null when there is none or it is not a string literal.</summary>
    private string? Index()
    {
        if (!Eat("[") || (!Peek("'") && !Peek("\"")))
        {
            return null; // the caller says what it expected
        }

        var key = StringLiteral();
        return key is not null && Expect("]") ? key : null;
    }

    private TagAttributeRef? Unsupported(string name, int start) => Fail<TagAttributeRef>(
        $"unsupported attribute '{name}' (request.host, request.method, request.path, request.url_path, request.scheme, request.useragent, " +
        "request.id, request.headers['name'], destination.port, response.code, response.grpc_status, upstream_peer.FIELD, downstream_peer.FIELD, " +
        "node.metadata['KEY'] are)", start);

    private TagLiteral? Integer()
    {
        var start = _pos;
        _pos++;
        while (_pos < _text.Length && char.IsAsciiDigit(_text[_pos]))
        {
            _pos++;
        }

        return long.TryParse(_text.AsSpan(start, _pos - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? new TagLiteral(TagValue.Of(value))
            : Fail<TagLiteral>("integer out of range", start);
    }

    private string? StringLiteral()
    {
        Skip();
        if (_pos >= _text.Length || _text[_pos] is not ('\'' or '"'))
        {
            Fail("expected a string literal");
            return null;
        }

        var quote = _text[_pos++];
        var value = new StringBuilder();
        while (_pos < _text.Length && _text[_pos] != quote)
        {
            if (_text[_pos] == '\\' && _pos + 1 < _text.Length)
            {
                _pos++;
            }

            value.Append(_text[_pos++]);
        }

        if (_pos >= _text.Length)
        {
            Fail("unterminated string literal");
            return null;
        }

        _pos++;
        return value.ToString();
    }

    private string Identifier()
    {
        Skip();
        var start = _pos;
        while (_pos < _text.Length && (char.IsAsciiLetterOrDigit(_text[_pos]) || _text[_pos] == '_'))
        {
            _pos++;
        }

        return _text[start.._pos];
    }

    private bool Word(string word)
    {
        Skip();
        var end = _pos + word.Length;
        if (string.CompareOrdinal(_text, _pos, word, 0, word.Length) == 0 && (end >= _text.Length || !(char.IsAsciiLetterOrDigit(_text[end]) || _text[end] == '_')))
        {
            _pos = end;
            return true;
        }

        return false;
    }

    private bool Peek(string token)
    {
        Skip();
        return string.CompareOrdinal(_text, _pos, token, 0, token.Length) == 0;
    }

    private bool Eat(string token)
    {
        if (Peek(token))
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

        Fail(_pos < _text.Length ? $"expected '{token}', found '{_text[_pos]}'" : $"expected '{token}' at the end");
        return false;
    }

    private void Skip()
    {
        while (_pos < _text.Length && char.IsWhiteSpace(_text[_pos]))
        {
            _pos++;
        }
    }

    private TagNode? Fail(string message, int? at = null) => Fail<TagNode>(message, at);

    private T? Fail<T>(string message, int? at = null)
        where T : class
    {
        _error ??= $"{message} at position {(at ?? _pos) + 1}";
        return null;
    }
}
