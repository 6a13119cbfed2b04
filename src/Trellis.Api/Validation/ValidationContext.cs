using Trellis.Api.Diagnostics;

namespace Trellis.Api.Validation;

/// <summary>Collects the findings of semantic validation; positions are filled in by whoever knows the source.</summary>
internal sealed class ValidationContext
{
    public List<Diagnostic> Findings { get; } = [];

    public void Error(string path, string message, string code = DiagnosticCodes.InvalidValue) =>
        Findings.Add(new Diagnostic(code, Severity.Error, message, path));

    public void Warning(string path, string message, string code) =>
        Findings.Add(new Diagnostic(code, Severity.Warning, message, path));
}
