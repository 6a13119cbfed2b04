using System.Collections.Frozen;

namespace Trellis.Eventing.Cesql;

/// <summary>
/// A built-in function (§3.5): a name, an arity (fixed, or variadic past the fixed parameters), the
/// parameter types its arguments are cast to (null: taken as they are) and its return type.
/// </summary>
internal sealed class CesqlFunction(string name, CesqlType[] parameters, CesqlType? variadic, CesqlType returnType, Func<CesqlValue[], int, Outcome> body)
{
    public string Name { get; } = name;

    public CesqlType ReturnType { get; } = returnType;

    public int FixedArity => parameters.Length;

    public bool IsVariadic => variadic is not null;

    /// <summary>The casting functions take any type and convert it themselves.</summary>
    public bool AnyArgument { get; init; }

    public CesqlType? ParameterType(int index) =>
        AnyArgument ? null : index < parameters.Length ? parameters[index] : variadic;

    public Outcome Invoke(CesqlValue[] arguments, int position) => body(arguments, position);
}

/// <summary>The functions every CESQL engine must have (§3.5.1–3.5.3), looked up by name (any case) and arity.</summary>
internal static class BuiltinFunctions
{
    private static readonly FrozenDictionary<string, CesqlFunction[]> ByName = Create()
        .GroupBy(f => f.Name, StringComparer.OrdinalIgnoreCase)
        .ToFrozenDictionary(g => g.Key, g => g.ToArray(), StringComparer.OrdinalIgnoreCase);

    /// <summary>A fixed-arity overload wins over a variadic one; a variadic one needs at least its fixed arguments.</summary>
    public static CesqlFunction? Resolve(string name, int arity)
    {
        if (!ByName.TryGetValue(name, out var overloads))
        {
            return null;
        }

        return overloads.FirstOrDefault(f => !f.IsVariadic && f.FixedArity == arity)
            ?? overloads.FirstOrDefault(f => f.IsVariadic && arity >= f.FixedArity);
    }

    public static bool Exists(string name) => ByName.ContainsKey(name);

    private static IEnumerable<CesqlFunction> Create()
    {
        const CesqlType S = CesqlType.String, I = CesqlType.Integer;

        yield return new CesqlFunction("LENGTH", [S], null, I, (a, _) => Ok(a[0].AsString.Length));
        yield return new CesqlFunction("CONCAT", [], S, S, (a, _) => Ok(string.Concat(a.Select(v => v.AsString))));
        yield return new CesqlFunction("CONCAT_WS", [S], S, S, (a, _) => Ok(string.Join(a[0].AsString, a.Skip(1).Select(v => v.AsString))));
        yield return new CesqlFunction("LOWER", [S], null, S, (a, _) => Ok(a[0].AsString.ToLowerInvariant()));
        yield return new CesqlFunction("UPPER", [S], null, S, (a, _) => Ok(a[0].AsString.ToUpperInvariant()));
        yield return new CesqlFunction("TRIM", [S], null, S, (a, _) => Ok(a[0].AsString.Trim()));
        yield return new CesqlFunction("LEFT", [S, I], null, S, (a, p) => Side(a[0].AsString, a[1].AsInteger, left: true, p));
        yield return new CesqlFunction("RIGHT", [S, I], null, S, (a, p) => Side(a[0].AsString, a[1].AsInteger, left: false, p));
        yield return new CesqlFunction("SUBSTRING", [S, I], null, S, (a, p) => Substring(a[0].AsString, a[1].AsInteger, null, p));
        yield return new CesqlFunction("SUBSTRING", [S, I, I], null, S, (a, p) => Substring(a[0].AsString, a[1].AsInteger, a[2].AsInteger, p));
        yield return new CesqlFunction("ABS", [I], null, I, (a, p) => a[0].AsInteger == int.MinValue
            ? new Outcome(CesqlValue.Of(int.MaxValue), new CesqlError(CesqlErrorKind.Math, "ABS of -2147483648 overflows", p))
            : Ok(Math.Abs(a[0].AsInteger)));
        yield return new CesqlFunction("INT", [I], null, I, (a, p) => Casting.Explicit(a[0], I, p)) { AnyArgument = true };
        yield return new CesqlFunction("BOOL", [CesqlType.Boolean], null, CesqlType.Boolean, (a, p) => Casting.Explicit(a[0], CesqlType.Boolean, p)) { AnyArgument = true };
        yield return new CesqlFunction("STRING", [S], null, S, (a, p) => Casting.Explicit(a[0], S, p)) { AnyArgument = true };
        yield return new CesqlFunction("IS_INT", [I], null, CesqlType.Boolean, (a, _) => Ok(Casting.CanCast(a[0], I))) { AnyArgument = true };
        yield return new CesqlFunction("IS_BOOL", [CesqlType.Boolean], null, CesqlType.Boolean, (a, _) => Ok(Casting.CanCast(a[0], CesqlType.Boolean))) { AnyArgument = true };
    }

    private static Outcome Ok(int value) => new(CesqlValue.Of(value));

    private static Outcome Ok(bool value) => new(CesqlValue.Of(value));

    private static Outcome Ok(string value) => new(CesqlValue.Of(value));

    /// <summary>LEFT/RIGHT: the first or last <paramref name="count"/> characters; a negative count returns x with an error.</summary>
    private static Outcome Side(string x, int count, bool left, int position)
    {
        if (count < 0)
        {
            return new Outcome(CesqlValue.Of(x), new CesqlError(CesqlErrorKind.FunctionEvaluation, $"{(left ? "LEFT" : "RIGHT")} needs a length of 0 or more, not {count}", position));
        }

        return count >= x.Length ? Ok(x) : Ok(left ? x[..count] : x[^count..]);
    }

    /// <summary>SUBSTRING: 1-based, a negative start counts from the end, 0 gives ''; out of range is '' with an error.</summary>
    private static Outcome Substring(string x, int pos, int? length, int position)
    {
        if (pos > x.Length || pos < -x.Length || length < 0)
        {
            return new Outcome(CesqlValue.Of(""), new CesqlError(CesqlErrorKind.FunctionEvaluation, $"SUBSTRING position {pos} or length {length} is outside '{x}'", position));
        }

        if (pos == 0)
        {
            return Ok("");
        }

        var start = pos > 0 ? pos - 1 : x.Length + pos;
        var available = x.Length - start;
        return Ok(x.Substring(start, length is { } l ? Math.Min(l, available) : available));
    }
}
