using Trellis.Api.Diagnostics;

namespace Trellis.Api;

/// <summary>What reading one text gave: the documents that were valid, and every finding about all of them.</summary>
public sealed record ReadResult(IReadOnlyList<Resource> Resources, IReadOnlyList<Diagnostic> Diagnostics)
{
    public bool HasErrors => Diagnostics.Any(d => d.Severity == Severity.Error);
}
