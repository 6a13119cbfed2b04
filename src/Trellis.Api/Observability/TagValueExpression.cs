using System.Globalization;

namespace Trellis.Api.Observability;

/// <summary>The attributes a metric tag expression reads (Envoy's and Istio's CEL attribute names).</summary>
public enum TagAttribute : byte
{
    /// <summary><c>request.host</c>: the authority.</summary>
    RequestHost,
    RequestMethod,

    /// <summary><c>request.path</c>: the path with its query.</summary>
    RequestPath,

    /// <summary><c>request.url_path</c>: the path without the query.</summary>
    RequestUrlPath,
    RequestScheme,

    /// <summary><c>request.useragent</c>: the <c>user-agent</c> header.</summary>
    RequestUserAgent,

    /// <summary><c>request.id</c>: the <c>x-request-id</c> header.</summary>
    RequestId,

    /// <summary><c>request.headers['name']</c> (<see cref="TagAttributeRef.Key"/>, lower case).</summary>
    RequestHeader,

    /// <summary><c>destination.port</c>: the port the request addressed (its authority's port, else the listener's).</summary>
    DestinationPort,

    /// <summary><c>response.code</c>.</summary>
    ResponseCode,

    /// <summary><c>response.grpc_status</c>; absent when the response carried none.</summary>
    ResponseGrpcStatus,

    /// <summary><c>upstream_peer.FIELD</c>: the server's workload, known on the client side (outbound, gateway).</summary>
    UpstreamPeer,

    /// <summary><c>downstream_peer.FIELD</c>: the caller's workload, known on the server side (inbound).</summary>
    DownstreamPeer,

    /// <summary><c>node.metadata['KEY']</c>: the workload this proxy speaks for.</summary>
    Node,
}

/// <summary>
/// One attribute an expression reads. <paramref name="Field"/> is a peer's field (<c>app</c>, <c>version</c>,
/// <c>service</c>, <c>revision</c>, <c>name</c>, <c>namespace</c>, <c>workload</c>, <c>cluster</c>, or <c>labels</c>
/// with <paramref name="Key"/>) or a node metadata key; <paramref name="Key"/> a header name or a label key.
/// </summary>
public sealed record TagAttributeRef(TagAttribute Attribute, string? Field = null, string? Key = null)
{
    /// <summary>Read from the request head (captured per request); the others are known from a series' labels.</summary>
    public bool FromRequest => Attribute <= TagAttribute.DestinationPort;

    public override string ToString() => Attribute switch
    {
        TagAttribute.RequestHeader => $"request.headers['{Key}']",
        TagAttribute.UpstreamPeer or TagAttribute.DownstreamPeer =>
            $"{(Attribute == TagAttribute.UpstreamPeer ? "upstream_peer" : "downstream_peer")}.{Field}{(Key is null ? "" : $"['{Key}']")}",
        TagAttribute.Node => Key is null ? $"node.metadata['{Field}']" : $"node.metadata['{Field}']['{Key}']",
        _ => Attribute.ToString(),
    };
}

/// <summary>A CEL value as the tag expressions use them: a string, an integer, a boolean, or absent (CEL's error).</summary>
public readonly record struct TagValue(TagValueKind Kind, string? Text = null, long Number = 0)
{
    public static readonly TagValue Absent = default;

    public static TagValue Of(string? text) => text is null ? Absent : new TagValue(TagValueKind.Text, text);

    public static TagValue Of(long number) => new(TagValueKind.Number, Number: number);

    public static TagValue Of(bool value) => new(TagValueKind.Boolean, Number: value ? 1 : 0);

    /// <summary>The label value: integers in decimal, booleans as <c>true</c>/<c>false</c>; Istio writes <c>unknown</c> for an expression that fails.</summary>
    public string Render() => Kind switch
    {
        TagValueKind.Text => Text!,
        TagValueKind.Number => Number.ToString(CultureInfo.InvariantCulture),
        TagValueKind.Boolean => Number != 0 ? "true" : "false",
        _ => "unknown",
    };
}

public enum TagValueKind : byte
{
    Absent,
    Text,
    Number,
    Boolean,
}

/// <summary>Where an expression's attributes come from: a finished request's series and what was captured from its head.</summary>
public interface ITagAttributes
{
    TagValue Get(TagAttributeRef attribute);
}

/// <summary>
/// A Telemetry <c>metrics[].overrides[].tagOverrides[].value</c>: the CEL subset Trellis evaluates (parsed by
/// <see cref="TagValueParser"/>). Attribute references (<see cref="TagAttribute"/>), string and integer literals,
/// <c>string(x)</c>, <c>has(x)</c>, <c>'name' in request.headers</c>, <c>== != &lt; &lt;= &gt; &gt;=</c>, the
/// <c>startsWith</c>, <c>endsWith</c> and <c>contains</c> methods, <c>! &amp;&amp; ||</c>, <c>c ? a : b</c> and parentheses.
/// A value that cannot be computed (a missing header, a type mismatch) is absent and the label reads <c>unknown</c>, as
/// Istio's stats plugin writes it; an expression outside the subset is refused at apply.
/// </summary>
public sealed class TagValueExpression
{
    private readonly TagNode _root;

    internal TagValueExpression(TagNode root, string text, IReadOnlyList<TagAttributeRef> attributes)
    {
        _root = root;
        Text = text;
        Attributes = attributes;
    }

    public string Text { get; }

    /// <summary>Every attribute the expression reads, each once.</summary>
    public IReadOnlyList<TagAttributeRef> Attributes { get; }

    /// <summary>Whether the value depends on the request head (and so is captured per request).</summary>
    public bool FromRequest => Attributes.Any(a => a.FromRequest);

    public static TagValueExpression? Parse(string text, out string? error) => TagValueParser.Parse(text, out error);

    public TagValue Evaluate(ITagAttributes attributes) => _root.Eval(attributes);
}

internal abstract record TagNode
{
    public abstract TagValue Eval(ITagAttributes a);
}

internal sealed record TagLiteral(TagValue Value) : TagNode
{
    public override TagValue Eval(ITagAttributes a) => Value;
}

internal sealed record TagRead(TagAttributeRef Attribute) : TagNode
{
    public override TagValue Eval(ITagAttributes a) => a.Get(Attribute);
}

internal sealed record TagHas(TagAttributeRef Attribute) : TagNode
{
    public override TagValue Eval(ITagAttributes a) => TagValue.Of(a.Get(Attribute).Kind != TagValueKind.Absent);
}

internal sealed record TagToString(TagNode Inner) : TagNode
{
    public override TagValue Eval(ITagAttributes a) => Inner.Eval(a) is { Kind: not TagValueKind.Absent } v ? TagValue.Of(v.Render()) : TagValue.Absent;
}

internal sealed record TagNot(TagNode Inner) : TagNode
{
    public override TagValue Eval(ITagAttributes a) => Inner.Eval(a) is { Kind: TagValueKind.Boolean } v ? TagValue.Of(v.Number == 0) : TagValue.Absent;
}

/// <summary><c>&amp;&amp;</c> and <c>||</c>, short-circuiting as CEL does on the left operand.</summary>
internal sealed record TagLogic(bool And, TagNode Left, TagNode Right) : TagNode
{
    public override TagValue Eval(ITagAttributes a)
    {
        if (Left.Eval(a) is not { Kind: TagValueKind.Boolean } left)
        {
            return TagValue.Absent;
        }

        if ((left.Number != 0) != And)
        {
            return left; // false && x, true || x
        }

        return Right.Eval(a) is { Kind: TagValueKind.Boolean } right ? right : TagValue.Absent;
    }
}

internal sealed record TagCompare(string Op, TagNode Left, TagNode Right) : TagNode
{
    public override TagValue Eval(ITagAttributes a)
    {
        var left = Left.Eval(a);
        var right = Right.Eval(a);
        if (left.Kind == TagValueKind.Absent || left.Kind != right.Kind)
        {
            return TagValue.Absent; // CEL: no such overload
        }

        var order = left.Kind == TagValueKind.Text ? string.CompareOrdinal(left.Text, right.Text) : left.Number.CompareTo(right.Number);
        return Op switch
        {
            "==" => TagValue.Of(order == 0),
            "!=" => TagValue.Of(order != 0),
            "<" => TagValue.Of(order < 0),
            "<=" => TagValue.Of(order <= 0),
            ">" => TagValue.Of(order > 0),
            _ => TagValue.Of(order >= 0),
        };
    }
}

internal sealed record TagStringMethod(string Method, TagNode Target, TagNode Argument) : TagNode
{
    public override TagValue Eval(ITagAttributes a)
    {
        if (Target.Eval(a) is not { Kind: TagValueKind.Text } target || Argument.Eval(a) is not { Kind: TagValueKind.Text } argument)
        {
            return TagValue.Absent;
        }

        return TagValue.Of(Method switch
        {
            "startsWith" => target.Text!.StartsWith(argument.Text!, StringComparison.Ordinal),
            "endsWith" => target.Text!.EndsWith(argument.Text!, StringComparison.Ordinal),
            _ => target.Text!.Contains(argument.Text!, StringComparison.Ordinal),
        });
    }
}

internal sealed record TagConditional(TagNode Condition, TagNode Then, TagNode Else) : TagNode
{
    public override TagValue Eval(ITagAttributes a) => Condition.Eval(a) switch
    {
        { Kind: TagValueKind.Boolean, Number: not 0 } => Then.Eval(a),
        { Kind: TagValueKind.Boolean } => Else.Eval(a),
        _ => TagValue.Absent,
    };
}
