using Trellis.Api.Diagnostics;

namespace Trellis.Api.Tests;

/// <summary>For tests about reading and validation: every finding except the "accepted, not enforced" warnings, which NotEnforcedTests cover.</summary>
internal static class NotEnforcedFilter
{
    public static List<Diagnostic> ExceptNotEnforced(this IEnumerable<Diagnostic> diagnostics) =>
        diagnostics.Where(d => d.Code != DiagnosticCodes.AcceptedNotEnforced).ToList();
}
