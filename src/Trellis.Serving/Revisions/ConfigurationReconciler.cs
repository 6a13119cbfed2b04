using System.Globalization;
using System.Text.Json.Nodes;
using Trellis.Api;
using Trellis.Api.Serving;

namespace Trellis.Serving.Revisions;

/// <summary>The outcome of reconciling a Configuration: its status, and the Revision to create, if any.</summary>
public sealed record ConfigurationResult(ConfigurationStatus Status, Resource? RevisionToCreate, IReadOnlyList<string> Errors);

/// <summary>
/// Knative's Configuration reconciler (<c>pkg/reconciler/configuration</c>) as a function: every generation of the
/// template stamps one immutable Revision named <c>{configuration}-{generation:00000}</c> (or the template's own name),
/// and the status tracks the latest created and the latest ready revision.
/// </summary>
public static class ConfigurationReconciler
{
    /// <param name="configuration">A <c>Configuration</c> whose <see cref="ObjectMeta.Generation"/> counts template changes (1 when unset).</param>
    /// <param name="revisions">Existing revisions in the namespace (others are ignored).</param>
    /// <param name="readiness">Which revisions are ready or failed, by name; an absent one is still deploying.</param>
    public static ConfigurationResult Reconcile(Resource configuration, IReadOnlyList<Resource> revisions, IReadOnlyDictionary<string, RevisionReadiness> readiness)
    {
        var spec = configuration.GetSpec<ConfigurationSpec>();
        var meta = configuration.Metadata;
        var ns = Namespace(meta);
        var generation = meta.Generation ?? 1;
        var owner = meta.Labels?.GetValueOrDefault(ServingLabels.Service) ?? meta.Name;
        var byoName = spec.Template.Metadata?.Name;
        var name = string.IsNullOrEmpty(byoName) ? RevisionName(meta.Name, generation) : byoName;

        var inNamespace = revisions.Where(r => Namespace(r.Metadata) == ns).ToList();
        var errors = new List<string>();
        Resource? create = null;

        if (byoName is not null && !byoName.StartsWith(owner + "-", StringComparison.Ordinal))
        {
            errors.Add($"spec.template.metadata.name: revision name \"{byoName}\" must start with \"{owner}-\"");
        }
        else if (inNamespace.FirstOrDefault(r => r.Metadata.Name == name) is { } existing)
        {
            // Revisions are immutable: a name may only be reused for the very same template.
            var ownedByUs = existing.Metadata.Labels?.GetValueOrDefault(ServingLabels.Configuration) == meta.Name;
            if (!ownedByUs || !SameTemplate(existing, spec.Template))
            {
                errors.Add($"revision \"{name}\" already exists with a different spec; a changed template needs a new revision name");
            }
        }
        else
        {
            create = MakeRevision(configuration, spec.Template, name, generation, owner);
        }

        var own = inNamespace.Where(r => r.Metadata.Labels?.GetValueOrDefault(ServingLabels.Configuration) == meta.Name).ToList();
        if (create is not null)
        {
            own.Add(create);
        }

        var byGeneration = own
            .Select(r => (Revision: r, Generation: GenerationOf(r)))
            .Where(x => x.Generation <= generation)
            .OrderByDescending(x => x.Generation)
            .ThenByDescending(x => x.Revision.Metadata.Name, StringComparer.Ordinal)
            .ToList();

        var latestCreated = errors.Count == 0 ? name : byGeneration.FirstOrDefault().Revision?.Metadata.Name;
        var latestReady = byGeneration.FirstOrDefault(x => RevisionReadiness.Of(readiness, x.Revision.Metadata.Name).IsReady).Revision?.Metadata.Name;

        var status = new ConfigurationStatus
        {
            ObservedGeneration = generation,
            LatestCreatedRevisionName = latestCreated,
            LatestReadyRevisionName = latestReady,
            Conditions = [ReadyCondition(errors, latestCreated, readiness)],
        };
        return new ConfigurationResult(status, create, errors);
    }

    /// <summary>Knative's child name for a generation: <c>hello-00001</c>.</summary>
    public static string RevisionName(string configuration, long generation) =>
        $"{configuration}-{generation.ToString("D5", CultureInfo.InvariantCulture)}";

    private static Condition ReadyCondition(List<string> errors, string? latestCreated, IReadOnlyDictionary<string, RevisionReadiness> readiness)
    {
        if (errors.Count > 0)
        {
            return Condition.Failed(ConditionTypes.Ready, "RevisionFailed", $"Revision creation failed with message: {string.Join("; ", errors)}.");
        }

        var r = RevisionReadiness.Of(readiness, latestCreated!);
        if (r.IsReady)
        {
            return Condition.Ok(ConditionTypes.Ready);
        }

        // The revision's own reason (ExitCode1, ProgressDeadlineExceeded, ...) is what a user needs to see first.
        return r.IsFailed
            ? Condition.Failed(ConditionTypes.Ready, r.Reason ?? "RevisionFailed", $"Revision \"{latestCreated}\" failed with message: {r.Message ?? r.Reason}.")
            : Condition.Pending(ConditionTypes.Ready, r.Reason, $"Revision \"{latestCreated}\" is not ready yet.");
    }

    private static Resource MakeRevision(Resource configuration, RevisionTemplateSpec template, string name, long generation, string owner)
    {
        var meta = configuration.Metadata;
        var labels = new Dictionary<string, string>(template.Metadata?.Labels ?? new Dictionary<string, string>())
        {
            [ServingLabels.Configuration] = meta.Name,
            [ServingLabels.ConfigurationGeneration] = generation.ToString(CultureInfo.InvariantCulture),
        };
        if (meta.Labels?.ContainsKey(ServingLabels.Service) == true)
        {
            labels[ServingLabels.Service] = owner;
        }

        var annotations = template.Metadata?.Annotations is { Count: > 0 } a ? new Dictionary<string, string>(a) : null;
        var revisionMeta = new ObjectMeta { Name = name, Namespace = meta.Namespace, Labels = labels, Annotations = annotations };
        return new Resource(ServingLabels.ApiVersion, "Revision", revisionMeta, template.Spec);
    }

    private static bool SameTemplate(Resource revision, RevisionTemplateSpec template)
    {
        if (revision.Spec is not RevisionSpec spec)
        {
            return false;
        }

        var theirAnnotations = revision.Metadata.Annotations ?? new Dictionary<string, string>();
        var ourAnnotations = template.Metadata?.Annotations ?? new Dictionary<string, string>();
        return JsonNode.DeepEquals(ResourceWriter.WriteObject(spec), ResourceWriter.WriteObject(template.Spec))
            && theirAnnotations.Count == ourAnnotations.Count
            && ourAnnotations.All(kv => theirAnnotations.TryGetValue(kv.Key, out var v) && v == kv.Value);
    }

    private static long GenerationOf(Resource revision) =>
        long.TryParse(revision.Metadata.Labels?.GetValueOrDefault(ServingLabels.ConfigurationGeneration), NumberStyles.None, CultureInfo.InvariantCulture, out var g) ? g : 0;

    internal static string Namespace(ObjectMeta meta) => meta.Namespace ?? ResourceKey.DefaultNamespace;
}
