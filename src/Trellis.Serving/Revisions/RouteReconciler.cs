using Trellis.Api;
using Trellis.Api.Serving;

namespace Trellis.Serving.Revisions;

/// <summary>The outcome of reconciling a Route: its status, the resolved traffic table, and spec errors.</summary>
public sealed record RouteResult(RouteStatus Status, TrafficTable Table, IReadOnlyList<string> Errors);

/// <summary>
/// Knative's Route reconciler and traffic builder (<c>pkg/reconciler/route</c>, <c>route/traffic</c>) as a function:
/// each target is resolved to a revision (<c>latestRevision</c> follows the configuration's latest <em>ready</em>
/// revision), missing or unready targets mark <c>AllTrafficAssigned</c> with Knative's reasons, and until every target
/// resolves the previous traffic keeps being served.
/// </summary>
public static class RouteReconciler
{
    /// <param name="route">A <c>Route</c>.</param>
    /// <param name="configurations">Status of the configurations in the route's namespace, by name.</param>
    /// <param name="revisions">Existing revisions (any namespace; others are ignored).</param>
    /// <param name="readiness">Which revisions are ready or failed; an absent one is still deploying.</param>
    /// <param name="previous">The route's last status: its traffic stays while the new one cannot be resolved.</param>
    public static RouteResult Reconcile(
        Resource route,
        IReadOnlyDictionary<string, ConfigurationStatus> configurations,
        IReadOnlyList<Resource> revisions,
        IReadOnlyDictionary<string, RevisionReadiness> readiness,
        ServingOptions? options = null,
        RouteStatus? previous = null)
    {
        options ??= ServingOptions.Default;
        var meta = route.Metadata;
        var ns = ConfigurationReconciler.Namespace(meta);
        var host = options.Host(meta.Name, ns);
        var traffic = route.GetSpec<RouteSpec>().Traffic;
        var errors = TrafficValidator.Validate(traffic);
        if (traffic.Count == 0)
        {
            errors.Add("spec.traffic: at least one traffic target is required");
        }

        Condition assigned;
        List<TrafficTarget>? resolved = null;
        if (errors.Count > 0)
        {
            assigned = Condition.Failed(ConditionTypes.AllTrafficAssigned, "InvalidTraffic", string.Join("; ", errors));
        }
        else
        {
            var existing = revisions.Where(r => ConfigurationReconciler.Namespace(r.Metadata) == ns).Select(r => r.Metadata.Name).ToHashSet(StringComparer.Ordinal);
            (assigned, resolved) = Resolve(traffic, configurations, existing, readiness, options, meta.Name, ns);
        }

        var statusTraffic = resolved ?? previous?.Traffic ?? [];
        var status = new RouteStatus
        {
            ObservedGeneration = meta.Generation ?? 1,
            Url = options.Url(host),
            Traffic = statusTraffic,
            Conditions = [assigned, assigned.As(ConditionTypes.Ready)],
        };
        return new RouteResult(status, BuildTable(host, statusTraffic, options, meta.Name, ns), errors);
    }

    private static (Condition Assigned, List<TrafficTarget>? Resolved) Resolve(
        IReadOnlyList<TrafficTarget> traffic,
        IReadOnlyDictionary<string, ConfigurationStatus> configurations,
        HashSet<string> existing,
        IReadOnlyDictionary<string, RevisionReadiness> readiness,
        ServingOptions options,
        string name,
        string ns)
    {
        var resolved = new List<TrafficTarget>();
        Condition? pending = null;
        foreach (var t in traffic)
        {
            var (revision, problem) = t.RevisionName is { Length: > 0 } rev
                ? ResolveRevision(rev, existing, readiness)
                : ResolveConfiguration(t.ConfigurationName!, configurations);
            if (problem is { IsFalse: true })
            {
                return (problem, null); // a target that cannot work decides the condition at once
            }

            pending ??= problem;
            if (revision is not null)
            {
                resolved.Add(new TrafficTarget
                {
                    Tag = t.Tag,
                    RevisionName = revision,
                    ConfigurationName = t.RevisionName is { Length: > 0 } ? null : t.ConfigurationName,
                    LatestRevision = t.RevisionName is not { Length: > 0 },
                    Percent = t.Percent ?? 0,
                    Url = t.Tag is { } tag ? options.Url(options.TagHost(tag, name, ns)) : null,
                });
            }
        }

        return pending is not null ? (pending, null) : (Condition.Ok(ConditionTypes.AllTrafficAssigned), resolved);
    }

    private static (string? Revision, Condition? Problem) ResolveRevision(string revision, HashSet<string> existing, IReadOnlyDictionary<string, RevisionReadiness> readiness)
    {
        const string type = ConditionTypes.AllTrafficAssigned;
        if (!existing.Contains(revision))
        {
            return (null, Condition.Failed(type, "RevisionMissing", $"Revision \"{revision}\" referenced in traffic not found."));
        }

        var r = RevisionReadiness.Of(readiness, revision);
        if (r.IsFailed)
        {
            return (null, Condition.Failed(type, "RevisionMissing", $"Revision \"{revision}\" failed to become ready."));
        }

        return r.IsReady ? (revision, null) : (null, Condition.Pending(type, "RevisionMissing", $"Revision \"{revision}\" is not yet ready."));
    }

    private static (string? Revision, Condition? Problem) ResolveConfiguration(string configuration, IReadOnlyDictionary<string, ConfigurationStatus> configurations)
    {
        const string type = ConditionTypes.AllTrafficAssigned;
        if (!configurations.TryGetValue(configuration, out var status))
        {
            return (null, Condition.Failed(type, "ConfigurationMissing", $"Configuration \"{configuration}\" referenced in traffic not found."));
        }

        if (status.LatestReadyRevisionName is { } ready)
        {
            return (ready, null);
        }

        return status.Ready is { IsFalse: true }
            ? (null, Condition.Failed(type, "RevisionMissing", $"Configuration \"{configuration}\" does not have any ready Revision."))
            : (null, Condition.Pending(type, "RevisionMissing", $"Configuration \"{configuration}\" is waiting for a Revision to become ready."));
    }

    /// <summary>Percents per revision in order of first mention (several targets on one revision add up, zero shares
    /// are left out), and one 100 % host per tag.</summary>
    private static TrafficTable BuildTable(string host, IReadOnlyList<TrafficTarget> traffic, ServingOptions options, string name, string ns)
    {
        var split = new List<RevisionSplit>();
        var tags = new Dictionary<string, TaggedTarget>(StringComparer.Ordinal);
        foreach (var t in traffic)
        {
            var revision = t.RevisionName!;
            var percent = t.Percent ?? 0;
            var at = split.FindIndex(s => s.RevisionName == revision);
            if (at >= 0)
            {
                split[at] = split[at] with { Percent = split[at].Percent + percent };
            }
            else if (percent > 0)
            {
                split.Add(new RevisionSplit(revision, percent));
            }

            if (t.Tag is { } tag)
            {
                var tagHost = options.TagHost(tag, name, ns);
                tags[tag] = new TaggedTarget(tag, revision, tagHost, options.Url(tagHost));
            }
        }

        return new TrafficTable(host, split, tags);
    }
}
