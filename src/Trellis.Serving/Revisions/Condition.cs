namespace Trellis.Serving.Revisions;

/// <summary>A Knative status condition: <see cref="Status"/> is "True", "False" or "Unknown".</summary>
public sealed record Condition(string Type, string Status, string? Reason = null, string? Message = null)
{
    public const string True = "True";
    public const string False = "False";
    public const string Unknown = "Unknown";

    public bool IsTrue => Status == True;

    public bool IsFalse => Status == False;

    public static Condition Ok(string type) => new(type, True);

    public static Condition Failed(string type, string reason, string message) => new(type, False, reason, message);

    public static Condition Pending(string type, string? reason = null, string? message = null) => new(type, Unknown, reason, message);

    /// <summary>The same state under another type, as Knative propagates a child's Ready into its parent.</summary>
    public Condition As(string type) => this with { Type = type };
}

/// <summary>Condition types and reasons used by the serving reconcilers.</summary>
public static class ConditionTypes
{
    public const string Ready = "Ready";
    public const string ConfigurationsReady = "ConfigurationsReady";
    public const string RoutesReady = "RoutesReady";
    public const string AllTrafficAssigned = "AllTrafficAssigned";
}
