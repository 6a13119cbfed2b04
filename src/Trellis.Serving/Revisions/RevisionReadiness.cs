namespace Trellis.Serving.Revisions;

/// <summary>
/// Whether a revision's instances came up, as reported by whoever runs them (the agent): ready, failed with a reason
/// such as <c>ExitCode1</c> or <c>ProgressDeadlineExceeded</c>, or still deploying.
/// </summary>
public sealed record RevisionReadiness(string Status, string? Reason = null, string? Message = null)
{
    public static RevisionReadiness Ready { get; } = new(Condition.True);

    public static RevisionReadiness Deploying { get; } = new(Condition.Unknown, "Deploying");

    public static RevisionReadiness Failed(string reason, string? message = null) => new(Condition.False, reason, message);

    public bool IsReady => Status == Condition.True;

    public bool IsFailed => Status == Condition.False;

    /// <summary>Looks a revision up; one nobody reported on is still deploying.</summary>
    public static RevisionReadiness Of(IReadOnlyDictionary<string, RevisionReadiness> readiness, string revision) =>
        readiness.TryGetValue(revision, out var r) ? r : Deploying;
}
