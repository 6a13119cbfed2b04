using System.Globalization;

namespace Trellis.Eventing.Cesql;

/// <summary>The three primitive types of CESQL v1 (§3.1); URIs and timestamps are Strings.</summary>
public enum CesqlType
{
    Boolean,
    Integer,
    String,
}

/// <summary>A CESQL value: a Boolean, a 32-bit Integer or a String. A struct, so evaluating a filter allocates little.</summary>
public readonly record struct CesqlValue
{
    private CesqlValue(CesqlType type, bool boolean, int integer, string? text)
    {
        Type = type;
        AsBoolean = boolean;
        AsInteger = integer;
        AsString = text ?? "";
    }

    public CesqlType Type { get; }

    public bool AsBoolean { get; }

    public int AsInteger { get; }

    public string AsString { get; }

    public static CesqlValue False { get; } = Of(false);

    public static CesqlValue Of(bool value) => new(CesqlType.Boolean, value, 0, null);

    public static CesqlValue Of(int value) => new(CesqlType.Integer, false, value, null);

    public static CesqlValue Of(string value) => new(CesqlType.String, false, 0, value);

    /// <summary>The zero value of a type, returned with an error (§3.3: every operator is total).</summary>
    public static CesqlValue Zero(CesqlType type) => type switch
    {
        CesqlType.Boolean => Of(false),
        CesqlType.Integer => Of(0),
        _ => Of(""),
    };

    public override string ToString() => Type switch
    {
        CesqlType.Boolean => AsBoolean ? "true" : "false",
        CesqlType.Integer => AsInteger.ToString(CultureInfo.InvariantCulture),
        _ => AsString,
    };
}
