namespace Trellis.Api.Schema;

/// <summary>
/// The fields of this property's record are written at the same level as its owner's own fields,
/// like Go's <c>json:",inline"</c>: Knative's <c>RevisionSpec</c> embeds a Kubernetes <c>PodSpec</c> this way.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class InlineAttribute : Attribute;
