using System.Text.Json.Nodes;
using Trellis.Api;
using Trellis.Api.Eventing;
using Trellis.Serving.Revisions;

namespace Trellis.ControlPlane.Eventing;

/// <summary>A SinkBinding with its sink resolved: <see cref="SinkUri"/> is null when it did not resolve (nothing is bound then).</summary>
internal sealed record ResolvedBinding(string Namespace, string Name, SinkBindingSpec Spec, string? SinkUri);

/// <summary>What became of one binding: how many Deployments it binds, or why its named subject is missing.</summary>
internal sealed record BindingOutcome(int Bound, string? SubjectMissing);

/// <summary>
/// Which Deployments SinkBindings bind, as a function of the objects (Knative's psbinding reconciler, without the
/// writes). A Deployment subject is matched by name or by the selector on the Deployment's labels; a Knative Service
/// subject (by name, or by the selector on the Service's labels) binds the Deployments of all its revisions, which
/// carry its name in <c>serving.knative.dev/service</c>. When several bindings bind one Deployment, the first by name
/// wins (Knative leaves that case to whichever webhook call ran last).
/// </summary>
internal static class SinkBindingPlan
{
    /// <returns>
    /// The <see cref="SinkBindingEnv.StatusField"/> value each Deployment should carry (null: not bound), and each
    /// binding's outcome.
    /// </returns>
    public static (Dictionary<ResourceKey, JsonObject?> Deployments, Dictionary<(string Ns, string Name), BindingOutcome> Bindings) Compute(
        IReadOnlyList<ResolvedBinding> bindings, IReadOnlyList<Resource> deployments, IReadOnlyList<Resource> knativeServices)
    {
        var ordered = bindings.OrderBy(b => b.Namespace, StringComparer.Ordinal).ThenBy(b => b.Name, StringComparer.Ordinal).ToList();
        var subjects = ordered.ToDictionary(b => (b.Namespace, b.Name), b => BoundServices(b, knativeServices));
        var desired = new Dictionary<ResourceKey, JsonObject?>();
        var counts = ordered.ToDictionary(b => (b.Namespace, b.Name), _ => 0);
        foreach (var deployment in deployments)
        {
            var winner = ordered.FirstOrDefault(b => b.SinkUri is not null && Binds(b, deployment, subjects[(b.Namespace, b.Name)]));
            desired[deployment.Key] = winner is null ? null : SinkBindingEnv.ToStatus(winner.Name, winner.SinkUri!, SinkBindingEnv.OverridesJson(winner.Spec.CeOverrides));
            if (winner is not null)
            {
                counts[(winner.Namespace, winner.Name)]++;
            }
        }

        var outcomes = ordered.ToDictionary(b => (b.Namespace, b.Name), b => new BindingOutcome(counts[(b.Namespace, b.Name)], SubjectMissing(b, deployments, knativeServices)));
        return (desired, outcomes);
    }

    private static bool Binds(ResolvedBinding binding, Resource deployment, IReadOnlySet<string> services)
    {
        if (deployment.Key.Namespace != binding.Namespace)
        {
            return false;
        }

        var subject = binding.Spec.Subject;
        var labels = deployment.Metadata.Labels ?? new Dictionary<string, string>();
        if (SinkBindingSubjects.IsDeployment(subject.ApiVersion, subject.Kind))
        {
            return subject.Name is { Length: > 0 } name ? deployment.Metadata.Name == name : subject.Selector?.Matches(labels) == true;
        }

        return SinkBindingSubjects.IsKnativeService(subject.ApiVersion, subject.Kind)
            && labels.TryGetValue(ServingLabels.Service, out var service) && services.Contains(service);
    }

    /// <summary>The Knative Services a binding names or selects (empty for a Deployment subject).</summary>
    private static HashSet<string> BoundServices(ResolvedBinding binding, IReadOnlyList<Resource> knativeServices)
    {
        var subject = binding.Spec.Subject;
        if (!SinkBindingSubjects.IsKnativeService(subject.ApiVersion, subject.Kind))
        {
            return [];
        }

        return knativeServices
            .Where(s => s.Key.Namespace == binding.Namespace
                && (subject.Name is { Length: > 0 } name ? s.Metadata.Name == name : subject.Selector?.Matches(s.Metadata.Labels ?? new Dictionary<string, string>()) == true))
            .Select(s => s.Metadata.Name)
            .ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Knative's <c>SubjectMissing</c>: a subject named that does not exist. A selector that selects nothing binds nothing, and is not an error.</summary>
    private static string? SubjectMissing(ResolvedBinding binding, IReadOnlyList<Resource> deployments, IReadOnlyList<Resource> knativeServices)
    {
        var subject = binding.Spec.Subject;
        if (subject.Name is not { Length: > 0 } name)
        {
            return null;
        }

        var candidates = SinkBindingSubjects.IsDeployment(subject.ApiVersion, subject.Kind) ? deployments : knativeServices;
        return candidates.Any(c => c.Key.Namespace == binding.Namespace && c.Metadata.Name == name)
            ? null
            : $"{subject.Kind} {binding.Namespace}/{name} ({subject.ApiVersion}) does not exist";
    }
}
