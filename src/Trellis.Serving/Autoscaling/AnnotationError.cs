namespace Trellis.Serving.Autoscaling;

/// <summary>One rejected autoscaling annotation: the key as the user wrote it, the value, and why.</summary>
public sealed record AnnotationError(string Annotation, string? Value, string Message)
{
    public override string ToString() => Value is null ? $"{Annotation}: {Message}" : $"{Annotation}: {Message} (was \"{Value}\")";
}
