namespace Trellis.Eventing.Cesql;

/// <summary>
/// The expression tree. Every node is total (§3.3): it always returns a value of its type. The test kit
/// fixes how errors travel: an operand that failed makes its operator return the operator's zero value
/// with that error (so <c>missing / 0</c> reports the missing attribute, not a division by zero); an
/// operator's own failed cast goes on with the zero value (so <c>NOT 10</c> is true, with a Cast error).
/// </summary>
internal abstract class Node(int position)
{
    public int Position { get; } = position;

    public abstract Outcome Evaluate(ICesqlEvent cloudEvent);
}

internal sealed class LiteralNode(int position, CesqlValue value) : Node(position)
{
    public override Outcome Evaluate(ICesqlEvent cloudEvent) => new(value);
}

/// <summary>An attribute or extension; a missing one is <c>false</c> with a MissingAttribute error (§3.2).</summary>
internal sealed class AttributeNode(int position, string name) : Node(position)
{
    public override Outcome Evaluate(ICesqlEvent cloudEvent) =>
        cloudEvent.TryGetAttribute(name, out var value)
            ? new Outcome(value)
            : Outcome.Fail(CesqlType.Boolean, new CesqlError(CesqlErrorKind.MissingAttribute, $"the event has no attribute '{name}'", Position));
}

internal sealed class ExistsNode(int position, string name) : Node(position)
{
    public override Outcome Evaluate(ICesqlEvent cloudEvent) => new(CesqlValue.Of(cloudEvent.TryGetAttribute(name, out _)));
}

internal sealed class NotNode(int position, Node operand) : Node(position)
{
    public override Outcome Evaluate(ICesqlEvent cloudEvent)
    {
        var x = operand.Evaluate(cloudEvent);
        if (x.Error is not null)
        {
            return Outcome.Fail(CesqlType.Boolean, x.Error);
        }

        var cast = Casting.Implicit(x.Value, CesqlType.Boolean, operand.Position);
        return new Outcome(CesqlValue.Of(!cast.Value.AsBoolean), cast.Error);
    }
}

internal sealed class NegateNode(int position, Node operand) : Node(position)
{
    public override Outcome Evaluate(ICesqlEvent cloudEvent)
    {
        var x = operand.Evaluate(cloudEvent);
        if (x.Error is not null)
        {
            return Outcome.Fail(CesqlType.Integer, x.Error);
        }

        var cast = Casting.Implicit(x.Value, CesqlType.Integer, operand.Position);
        return Arithmetic.Result(-(long)cast.Value.AsInteger, cast.Error, Position);
    }
}

internal enum BinaryOperator
{
    Multiply,
    Divide,
    Modulo,
    Add,
    Subtract,
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    And,
    Or,
    Xor,
}

internal sealed class BinaryNode(int position, BinaryOperator op, Node left, Node right) : Node(position)
{
    private CesqlType ResultType => op <= BinaryOperator.Subtract ? CesqlType.Integer : CesqlType.Boolean;

    public override Outcome Evaluate(ICesqlEvent cloudEvent)
    {
        var x = left.Evaluate(cloudEvent);
        if (x.Error is not null)
        {
            return Outcome.Fail(ResultType, x.Error);
        }

        if (op is BinaryOperator.And or BinaryOperator.Or)
        {
            return ShortCircuit(x, cloudEvent);
        }

        var y = right.Evaluate(cloudEvent);
        if (y.Error is not null)
        {
            return Outcome.Fail(ResultType, y.Error);
        }

        switch (op)
        {
            case BinaryOperator.Equal or BinaryOperator.NotEqual:
                {
                    // '=' is defined for all three types: the right operand's type decides the cast (§3.7).
                    var cast = Casting.Implicit(x.Value, y.Value.Type, left.Position);
                    return new Outcome(CesqlValue.Of(cast.Value.Equals(y.Value) == (op == BinaryOperator.Equal)), cast.Error);
                }

            case BinaryOperator.Xor:
                {
                    var a = Casting.Implicit(x.Value, CesqlType.Boolean, left.Position);
                    var b = Casting.Implicit(y.Value, CesqlType.Boolean, right.Position);
                    return new Outcome(CesqlValue.Of(a.Value.AsBoolean ^ b.Value.AsBoolean), a.Error ?? b.Error);
                }

            default:
                {
                    var a = Casting.Implicit(x.Value, CesqlType.Integer, left.Position);
                    var b = Casting.Implicit(y.Value, CesqlType.Integer, right.Position);
                    var error = a.Error ?? b.Error;
                    long l = a.Value.AsInteger, r = b.Value.AsInteger;
                    return op switch
                    {
                        BinaryOperator.Less => new Outcome(CesqlValue.Of(l < r), error),
                        BinaryOperator.LessEqual => new Outcome(CesqlValue.Of(l <= r), error),
                        BinaryOperator.Greater => new Outcome(CesqlValue.Of(l > r), error),
                        BinaryOperator.GreaterEqual => new Outcome(CesqlValue.Of(l >= r), error),
                        BinaryOperator.Add => Arithmetic.Result(l + r, error, Position),
                        BinaryOperator.Subtract => Arithmetic.Result(l - r, error, Position),
                        BinaryOperator.Multiply => Arithmetic.Result(l * r, error, Position),
                        _ when r == 0 => Outcome.Fail(CesqlType.Integer, error ?? new CesqlError(CesqlErrorKind.Math, "division by zero", Position)),
                        BinaryOperator.Divide => Arithmetic.Result(l / r, error, Position),
                        _ => Arithmetic.Result(l % r, error, Position),
                    };
                }
        }
    }

    /// <summary>AND and OR do not evaluate their right operand when the left one decides (§3.6).</summary>
    private Outcome ShortCircuit(Outcome x, ICesqlEvent cloudEvent)
    {
        var a = Casting.Implicit(x.Value, CesqlType.Boolean, left.Position);
        var decided = op == BinaryOperator.Or ? a.Value.AsBoolean : !a.Value.AsBoolean;
        if (decided)
        {
            return new Outcome(a.Value, a.Error);
        }

        var y = right.Evaluate(cloudEvent);
        if (y.Error is not null)
        {
            return Outcome.Fail(CesqlType.Boolean, y.Error);
        }

        var b = Casting.Implicit(y.Value, CesqlType.Boolean, right.Position);
        return new Outcome(b.Value, a.Error ?? b.Error);
    }
}

internal sealed class LikeNode(int position, Node operand, LikePattern pattern, bool negated) : Node(position)
{
    public override Outcome Evaluate(ICesqlEvent cloudEvent)
    {
        var x = operand.Evaluate(cloudEvent);
        if (x.Error is not null)
        {
            return Outcome.Fail(CesqlType.Boolean, x.Error);
        }

        var text = Casting.Implicit(x.Value, CesqlType.String, operand.Position);
        return new Outcome(CesqlValue.Of(pattern.Matches(text.Value.AsString) != negated), text.Error);
    }
}

/// <summary><c>x IN (…)</c>: each element is cast to the type of <c>x</c> and compared as <c>=</c> does (§3.4.5).</summary>
internal sealed class InNode(int position, Node operand, IReadOnlyList<Node> set, bool negated) : Node(position)
{
    public override Outcome Evaluate(ICesqlEvent cloudEvent)
    {
        var x = operand.Evaluate(cloudEvent);
        if (x.Error is not null)
        {
            return Outcome.Fail(CesqlType.Boolean, x.Error);
        }

        CesqlError? castError = null;
        var found = false;
        foreach (var element in set)
        {
            var y = element.Evaluate(cloudEvent);
            if (y.Error is not null)
            {
                return Outcome.Fail(CesqlType.Boolean, y.Error);
            }

            var cast = Casting.Implicit(y.Value, x.Value.Type, element.Position);
            castError ??= cast.Error;
            found |= cast.Error is null && cast.Value.Equals(x.Value);
        }

        return new Outcome(CesqlValue.Of(found != negated), castError);
    }
}

internal sealed class CallNode(int position, CesqlFunction function, IReadOnlyList<Node> arguments) : Node(position)
{
    public override Outcome Evaluate(ICesqlEvent cloudEvent)
    {
        var values = new CesqlValue[arguments.Count];
        CesqlError? castError = null;
        for (var i = 0; i < values.Length; i++)
        {
            var argument = arguments[i].Evaluate(cloudEvent);
            if (argument.Error is not null)
            {
                return Outcome.Fail(function.ReturnType, argument.Error);
            }

            if (function.ParameterType(i) is { } type)
            {
                var cast = Casting.Implicit(argument.Value, type, arguments[i].Position);
                castError ??= cast.Error;
                values[i] = cast.Value;
            }
            else
            {
                values[i] = argument.Value;
            }
        }

        var result = function.Invoke(values, Position);
        return castError is null ? result : new Outcome(result.Value, castError);
    }
}

internal static class Arithmetic
{
    /// <summary>Integers are 32-bit (§3.1): a result outside the range saturates and raises a Math error.</summary>
    public static Outcome Result(long value, CesqlError? error, int position)
    {
        if (value is >= int.MinValue and <= int.MaxValue)
        {
            return new Outcome(CesqlValue.Of((int)value), error);
        }

        var clamped = value > int.MaxValue ? int.MaxValue : int.MinValue;
        return new Outcome(CesqlValue.Of(clamped), error ?? new CesqlError(CesqlErrorKind.Math, $"integer overflow ({value})", position));
    }
}
