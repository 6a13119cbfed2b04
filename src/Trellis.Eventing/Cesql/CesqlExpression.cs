namespace Trellis.Eventing.Cesql;

/// <summary>What a CESQL expression reads: the event's context attributes and extensions, by lower-case name.</summary>
public interface ICesqlEvent
{
    bool TryGetAttribute(string name, out CesqlValue value);
}

/// <summary>The value of an evaluation and the first error met (null when none), as §1 defines the two outputs.</summary>
public readonly record struct CesqlResult(CesqlValue Value, CesqlError? Error);

/// <summary>
/// A parsed CloudEvents SQL v1 expression. Parse once (a Trigger's filter is parsed when the Trigger is
/// applied), evaluate per event; evaluation never throws.
/// </summary>
public sealed class CesqlExpression
{
    private readonly Node _root;

    private CesqlExpression(string text, Node root)
    {
        Text = text;
        _root = root;
    }

    public string Text { get; }

    /// <summary>The expression, or the Parse or MissingFunction error that rejects it.</summary>
    public static (CesqlExpression? Expression, CesqlError? Error) Parse(string text)
    {
        var (root, error) = Parser.Parse(text);
        return root is null ? (null, error) : (new CesqlExpression(text, root), null);
    }

    public CesqlResult Evaluate(ICesqlEvent cloudEvent)
    {
        var outcome = _root.Evaluate(cloudEvent);
        return new CesqlResult(outcome.Value, outcome.Error);
    }

    /// <summary>As a filter (§1.2): passes only a Boolean true reached without error.</summary>
    public bool Matches(ICesqlEvent cloudEvent)
    {
        var result = Evaluate(cloudEvent);
        return result.Error is null && result.Value.Type == CesqlType.Boolean && result.Value.AsBoolean;
    }
}
