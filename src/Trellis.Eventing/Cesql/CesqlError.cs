namespace Trellis.Eventing.Cesql;

/// <summary>The error classes of CESQL v1 (§3.3), named as the CloudEvents test kit names them.</summary>
public enum CesqlErrorKind
{
    /// <summary>The expression does not follow the grammar.</summary>
    Parse,

    /// <summary>Division or modulo by zero, integer overflow.</summary>
    Math,

    /// <summary>A value could not be cast to the type an operator or function needs.</summary>
    Cast,

    /// <summary>The expression names an attribute the event does not have.</summary>
    MissingAttribute,

    /// <summary>No function of that name takes that many arguments.</summary>
    MissingFunction,

    /// <summary>A function was called with arguments it is not defined for (e.g. a negative length).</summary>
    FunctionEvaluation,
}

/// <summary>One error, with the character offset in the expression where it arose.</summary>
public sealed record CesqlError(CesqlErrorKind Kind, string Message, int Position)
{
    public override string ToString() => $"{Kind} error at {Position}: {Message}";
}
