using System.Text.Json.Nodes;
using Trellis.Api;
using Trellis.Api.Serving;

namespace Trellis.Serving.Revisions;

/// <summary>
/// Everything one pass over a Knative Service decides. <see cref="Configuration"/> and <see cref="Route"/> are the
/// desired children (null when the Service is invalid: then nothing must be written); <see cref="RevisionToCreate"/>
/// is the new revision for a changed template.
/// </summary>
public sealed record ServiceResult(
    Resource? Configuration,
    Resource? Route,
    Resource? RevisionToCreate,
    ConfigurationStatus? ConfigurationStatus,
    RouteStatus? RouteStatus,
    TrafficTable? Traffic,
    ServiceStatus Status,
    IReadOnlyList<string> Errors);

/// <summary>
/// Knative's Service reconciler (<c>pkg/reconciler/service</c>) as a function: a Service owns a Configuration and a
/// Route of its own name. One call derives both, runs <see cref="ConfigurationReconciler"/> and
/// <see cref="RouteReconciler"/> on them, and folds their status into the Service's.
/// </summary>
public static class ServiceReconciler
{
    /// <param name="service">A Knative <c>Service</c>.</param>
    /// <param name="existingConfiguration">The Configuration as stored, to keep its generation when the template is unchanged.</param>
    /// <param name="revisions">Existing revisions.</param>
    /// <param name="readiness">Which revisions are ready or failed; an absent one is still deploying.</param>
    /// <param name="previousRoute">The Route's last status, whose traffic stays while the new split cannot be resolved.</param>
    public static ServiceResult Reconcile(
        Resource service,
        Resource? existingConfiguration,
        IReadOnlyList<Resource> revisions,
        IReadOnlyDictionary<string, RevisionReadiness> readiness,
        ServingOptions? options = null,
        RouteStatus? previousRoute = null)
    {
        options ??= ServingOptions.Default;
        var spec = service.GetSpec<KnativeServiceSpec>();
        var meta = service.Metadata;
        var ns = ConfigurationReconciler.Namespace(meta);
        var generation = meta.Generation ?? 1;

        var traffic = DefaultTraffic(spec.Traffic, meta.Name);
        var errors = new List<string>();
        for (var i = 0; i < spec.Traffic.Count; i++)
        {
            if (!string.IsNullOrEmpty(spec.Traffic[i].ConfigurationName))
            {
                errors.Add($"spec.traffic[{i}].configurationName: not allowed in a Service, which routes to its own Configuration");
            }
        }

        errors.AddRange(TrafficValidator.Validate(traffic));
        if (errors.Count > 0)
        {
            var invalid = Condition.Failed(ConditionTypes.Ready, "InvalidSpec", string.Join("; ", errors));
            var status = new ServiceStatus { ObservedGeneration = generation, Conditions = [invalid] };
            return new ServiceResult(null, null, null, null, null, null, status, errors);
        }

        var labels = new Dictionary<string, string>(meta.Labels ?? new Dictionary<string, string>()) { [ServingLabels.Service] = meta.Name };
        var configuration = new Resource(
            ServingLabels.ApiVersion,
            "Configuration",
            new ObjectMeta { Name = meta.Name, Namespace = meta.Namespace, Labels = labels, Generation = ConfigurationGeneration(existingConfiguration, spec.Template) },
            new ConfigurationSpec { Template = spec.Template });
        var route = new Resource(
            ServingLabels.ApiVersion,
            "Route",
            new ObjectMeta { Name = meta.Name, Namespace = meta.Namespace, Labels = labels, Generation = generation },
            new RouteSpec { Traffic = traffic });

        var config = ConfigurationReconciler.Reconcile(configuration, revisions, readiness);
        var allRevisions = config.RevisionToCreate is { } created ? [.. revisions, created] : revisions;
        var configurations = new Dictionary<string, ConfigurationStatus> { [meta.Name] = config.Status };
        var routed = RouteReconciler.Reconcile(route, configurations, allRevisions, readiness, options, previousRoute);

        var configurationsReady = (config.Status.Ready ?? Condition.Pending(ConditionTypes.Ready)).As(ConditionTypes.ConfigurationsReady);
        var routesReady = (routed.Status.Ready ?? Condition.Pending(ConditionTypes.Ready)).As(ConditionTypes.RoutesReady);
        var serviceStatus = new ServiceStatus
        {
            ObservedGeneration = generation,
            Url = routed.Status.Url ?? options.Url(options.Host(meta.Name, ns)),
            LatestCreatedRevisionName = config.Status.LatestCreatedRevisionName,
            LatestReadyRevisionName = config.Status.LatestReadyRevisionName,
            Traffic = routed.Status.Traffic,
            Conditions = [Combine(configurationsReady, routesReady), configurationsReady, routesReady],
        };
        return new ServiceResult(configuration, route, config.RevisionToCreate, config.Status, routed.Status, routed.Table, serviceStatus, [.. config.Errors, .. routed.Errors]);
    }

    /// <summary>Knative's defaults: no traffic means 100 % to the latest ready revision; a target without a revision
    /// name follows the latest revision of the Service's own Configuration.</summary>
    private static List<TrafficTarget> DefaultTraffic(IReadOnlyList<TrafficTarget> traffic, string name)
    {
        if (traffic.Count == 0)
        {
            return [new TrafficTarget { ConfigurationName = name, LatestRevision = true, Percent = 100 }];
        }

        return traffic
            .Select(t => string.IsNullOrEmpty(t.RevisionName)
                ? t with { ConfigurationName = t.ConfigurationName ?? name, LatestRevision = t.LatestRevision ?? true }
                : t with { LatestRevision = t.LatestRevision ?? false })
            .ToList();
    }

    /// <summary>The store bumps a generation on every spec change; do the same so the revision name follows.</summary>
    private static long ConfigurationGeneration(Resource? existing, RevisionTemplateSpec template)
    {
        if (existing?.Spec is not ConfigurationSpec current)
        {
            return 1;
        }

        var generation = existing.Metadata.Generation ?? 1;
        return JsonNode.DeepEquals(ResourceWriter.WriteObject(current.Template), ResourceWriter.WriteObject(template)) ? generation : generation + 1;
    }

    /// <summary>Ready is True when both are; otherwise the first False, else the first Unknown, with its reason.</summary>
    private static Condition Combine(params Condition[] dependents) =>
        (dependents.FirstOrDefault(c => c.IsFalse) ?? dependents.FirstOrDefault(c => !c.IsTrue))?.As(ConditionTypes.Ready)
        ?? Condition.Ok(ConditionTypes.Ready);
}
