namespace Trellis.Api.Diagnostics;

public enum Severity
{
    Error,
    Warning,
    Info,
}

/// <summary>
/// One finding about an input document: a parse or validation error, or an analyzer message.
/// <see cref="Code"/> is stable across releases (scripts match on it), like istioctl analyze's IST codes.
/// </summary>
/// <param name="Code">Stable code, e.g. <c>TRL0001</c> or the Istio-compatible <c>IST0101</c>.</param>
/// <param name="Path">Field path inside the document, e.g. <c>spec.http[0].route[1].destination.subset</c>.</param>
/// <param name="Source">File name or other origin of the document.</param>
/// <param name="Line">1-based line in the source, 0 when unknown.</param>
/// <param name="Resource">The resource the finding is about, as <c>Kind/namespace/name</c>, when known.</param>
public sealed record Diagnostic(
    string Code,
    Severity Severity,
    string Message,
    string Path = "",
    string Source = "",
    int Line = 0,
    int Column = 0,
    string? Resource = null)
{
    public override string ToString()
    {
        var where = Line > 0 ? $"{Source}:{Line}:{Column}" : Source;
        var field = Path.Length > 0 ? $" {Path}:" : "";
        var about = Resource is null ? "" : $" [{Resource}]";
        return $"{Severity.ToString().ToUpperInvariant()} {Code} {where}{about}{field} {Message}".Trim();
    }
}
