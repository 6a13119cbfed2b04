namespace Trellis.Api.Schema;

/// <summary>
/// A string field (or the string values of a map) that also takes a plain number or boolean and keeps its text,
/// as Kubernetes quantities do (<c>cpu: 1</c> and <c>cpu: 500m</c> are both valid).
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ScalarStringAttribute : Attribute;
