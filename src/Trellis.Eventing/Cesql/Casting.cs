using System.Globalization;

namespace Trellis.Eventing.Cesql;

/// <summary>
/// Type casting (§3.7). Implicit casts are what operators and functions apply to their operands; the
/// explicit ones (<c>INT</c>, <c>BOOL</c>, <c>STRING</c>) also turn an Integer into a Boolean. A failed
/// cast gives the target's zero value and a Cast error; evaluation goes on with that value.
/// </summary>
internal static class Casting
{
    public static Outcome Implicit(CesqlValue value, CesqlType target, int position) => Cast(value, target, position, explicitCast: false);

    public static Outcome Explicit(CesqlValue value, CesqlType target, int position) => Cast(value, target, position, explicitCast: true);

    public static bool CanCast(CesqlValue value, CesqlType target) => Cast(value, target, 0, explicitCast: true).Error is null;

    private static Outcome Cast(CesqlValue value, CesqlType target, int position, bool explicitCast)
    {
        if (value.Type == target)
        {
            return new Outcome(value);
        }

        switch (target)
        {
            case CesqlType.String:
                return new Outcome(CesqlValue.Of(value.ToString()));
            case CesqlType.Integer when value.Type == CesqlType.Boolean:
                return new Outcome(CesqlValue.Of(value.AsBoolean ? 1 : 0));
            case CesqlType.Integer:
                return int.TryParse(value.AsString, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
                    ? new Outcome(CesqlValue.Of(number))
                    : Failed(value, target, position);
            case CesqlType.Boolean when value.Type == CesqlType.String:
                if (value.AsString.Equals("true", StringComparison.OrdinalIgnoreCase))
                {
                    return new Outcome(CesqlValue.Of(true));
                }

                return value.AsString.Equals("false", StringComparison.OrdinalIgnoreCase)
                    ? new Outcome(CesqlValue.Of(false))
                    : Failed(value, target, position);
            case CesqlType.Boolean when explicitCast:
                return new Outcome(CesqlValue.Of(value.AsInteger != 0));
            default:
                return Failed(value, target, position);
        }
    }

    private static Outcome Failed(CesqlValue value, CesqlType target, int position) =>
        new(CesqlValue.Zero(target), new CesqlError(CesqlErrorKind.Cast, $"cannot cast {value.Type} '{value}' to {target}", position));
}

/// <summary>What evaluating a node gives: a value, always, and the first error met on the way, if any.</summary>
internal readonly record struct Outcome(CesqlValue Value, CesqlError? Error = null)
{
    public static Outcome Fail(CesqlType type, CesqlError error) => new(CesqlValue.Zero(type), error);
}
