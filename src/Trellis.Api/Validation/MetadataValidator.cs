using Trellis.Api.Diagnostics;

namespace Trellis.Api.Validation;

/// <summary>Checks object names, namespaces, labels and annotations as the Kubernetes API server does.</summary>
internal static class MetadataValidator
{
    public static IReadOnlyList<Diagnostic> Validate(ObjectMeta metadata, KindInfo info)
    {
        var ctx = new ValidationContext();
        if (metadata.Name.Length > 0)
        {
            // Services and Namespaces become DNS labels (<name>.<ns>.svc), so Kubernetes holds them to the stricter label rules.
            var (ok, rule) = info switch
            {
                { Group: "", Kind: "Service" } => (Names.IsDns1035Label(metadata.Name), "an RFC 1035 label (lowercase letters, digits and '-', starting with a letter, at most 63 characters)"),
                { Group: "", Kind: "Namespace" } or { Group: ResourceKinds.KnativeServing, Kind: "Service" } =>
                    (Names.IsDns1123Label(metadata.Name), "an RFC 1123 label (lowercase letters, digits and '-', at most 63 characters)"),
                _ => (Names.IsDns1123Subdomain(metadata.Name), "an RFC 1123 subdomain (lowercase letters, digits, '-' and '.', at most 253 characters)"),
            };
            if (!ok)
            {
                ctx.Error("metadata.name", $"\"{metadata.Name}\" must be {rule}");
            }
        }

        if (metadata.Namespace is { } ns && !Names.IsDns1123Label(ns))
        {
            ctx.Error("metadata.namespace", $"\"{ns}\" must be an RFC 1123 label");
        }

        Checks.Labels(metadata.Labels, "metadata.labels", ctx);
        foreach (var key in metadata.Annotations?.Keys ?? [])
        {
            if (!Names.IsQualifiedName(key))
            {
                ctx.Error($"metadata.annotations[{key}]", $"\"{key}\" is not a valid annotation key");
            }
        }

        return ctx.Findings;
    }
}
