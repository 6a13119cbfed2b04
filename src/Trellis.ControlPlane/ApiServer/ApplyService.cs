using Trellis.Api;
using Trellis.Api.Diagnostics;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.ApiServer;

/// <summary>The result of an apply, analyze or delete request, before it is rendered as HTTP.</summary>
public sealed record ApplyResponse(int StatusCode, string? Reason, string? Message, IReadOnlyList<OperationOutcome> Outcomes, IReadOnlyList<Diagnostic> Diagnostics);

/// <summary>
/// Validates documents and writes them as one atomic batch. The order of checks is the contract:
/// (1) every document must read and validate, (2) the batch must not name an object twice,
/// (3) the analyzer, run over the store as it would be after the batch, must report no error about
/// the batch's own objects, (4) the store applies all or nothing. A failure at any step changes nothing.
/// </summary>
public sealed class ApplyService(IResourceStore store)
{
    public async Task<ApplyResponse> ApplyAsync(string text, string source, bool dryRun, PutMode mode, CancellationToken cancellationToken)
    {
        var read = ResourceReader.Read(text, source);
        if (read.HasErrors)
        {
            return Invalid("the input has errors; nothing was applied", read.Diagnostics);
        }

        if (read.Resources.Count == 0)
        {
            return new ApplyResponse(400, "BadRequest", "no resources found in the input", [], read.Diagnostics);
        }

        var duplicates = read.Resources.GroupBy(r => r.Key).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (duplicates.Count > 0)
        {
            var diags = duplicates.Select(k => new Diagnostic("TRL0008", Severity.Error, "the input names this object more than once", Source: source, Resource: Describe(k))).ToList();
            return Invalid("the input names an object more than once; nothing was applied", diags);
        }

        var findings = Analyze(read.Resources, deleting: new HashSet<ResourceKey>());
        var batchKeys = read.Resources.Select(r => Describe(r.Key)).ToHashSet(StringComparer.Ordinal);
        var relevant = findings.Where(d => d.Resource is null || batchKeys.Contains(d.Resource)).ToList();
        var all = read.Diagnostics.Concat(relevant).ToList();
        if (relevant.Any(d => d.Severity == Severity.Error))
        {
            return Invalid("the configuration references objects that do not exist; nothing was applied", all);
        }

        if (dryRun)
        {
            var outcomes = read.Resources.Select(r => new OperationOutcome(r.Key, BatchApplier.Preview(store.Snapshot.Get(r.Key), r), null)).ToList();
            return new ApplyResponse(200, null, "dry run: nothing was written", outcomes, all);
        }

        var ops = read.Resources.Select(r => (StoreOperation)new PutOperation(r, mode)).ToList();
        return await WriteAsync(ops, all, cancellationToken);
    }

    /// <summary>
    /// Reads and analyzes without writing: <c>trellis analyze</c>. Reports on the file: findings about
    /// its resources, and findings about stored ones that the file brings about (a stored VirtualService
    /// whose subset the file's DestinationRule drops); what was wrong in the store before is not the file's.
    /// </summary>
    public IReadOnlyList<Diagnostic> AnalyzeOnly(string text, string source)
    {
        var read = ResourceReader.Read(text, source);
        if (read.HasErrors)
        {
            return read.Diagnostics;
        }

        var mine = read.Resources.Select(r => Describe(r.Key)).ToHashSet(StringComparer.Ordinal);
        var before = Analyze([], deleting: new HashSet<ResourceKey>()).ToHashSet();
        var findings = Analyze(read.Resources, deleting: new HashSet<ResourceKey>())
            .Where(d => d.Resource is null || mine.Contains(d.Resource) || !before.Contains(d));
        return read.Diagnostics.Concat(findings).ToList();
    }

    public async Task<ApplyResponse> DeleteAsync(string text, string source, CancellationToken cancellationToken)
    {
        var read = ResourceReader.Read(text, source);
        if (read.HasErrors)
        {
            return Invalid("the input has errors; nothing was deleted", read.Diagnostics);
        }

        var keys = read.Resources.Select(r => r.Key).Distinct().ToList();
        var ops = keys.Select(k => (StoreOperation)new DeleteOperation(k, MustExist: false)).ToList();
        var remaining = Analyze([], keys.ToHashSet()).Where(d => d.Severity != Severity.Info).ToList();
        return await WriteAsync(ops, remaining, cancellationToken);
    }

    public async Task<ApplyResponse> WriteAsync(IReadOnlyList<StoreOperation> ops, IReadOnlyList<Diagnostic> diagnostics, CancellationToken cancellationToken)
    {
        var result = await store.WriteAsync(ops, cancellationToken);
        return result.Error switch
        {
            StoreErrorKind.None => new ApplyResponse(200, null, null, result.Outcomes, diagnostics),
            StoreErrorKind.NotFound => new ApplyResponse(404, "NotFound", result.Message, [], diagnostics),
            StoreErrorKind.AlreadyExists => new ApplyResponse(409, "AlreadyExists", result.Message, [], diagnostics),
            _ => new ApplyResponse(409, "Conflict", result.Message, [], diagnostics),
        };
    }

    public static string Describe(ResourceKey key) => $"{key.Kind}/{key.Namespace}/{key.Name}";

    private IReadOnlyList<Diagnostic> Analyze(IReadOnlyList<Resource> applying, IReadOnlySet<ResourceKey> deleting)
    {
        var merged = store.Snapshot.Objects.Values.Select(o => o.Resource).ToDictionary(r => r.Key);
        foreach (var key in deleting)
        {
            merged.Remove(key);
        }

        foreach (var r in applying)
        {
            merged[r.Key] = r;
        }

        return Analyzer.Analyze(merged.Values.ToList());
    }

    private static ApplyResponse Invalid(string message, IReadOnlyList<Diagnostic> diagnostics) =>
        new(422, "Invalid", message, [], diagnostics);
}
