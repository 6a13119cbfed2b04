using Trellis.Api;
using Trellis.Api.Serving;
using Trellis.Api.Workloads;
using Trellis.Serving.Revisions;

namespace Trellis.ControlPlane.Serving;

/// <summary>
/// The Deployment that runs a Revision, as Knative creates one per revision (<c>{revision}-deployment</c>):
/// the revision's container with the runtime contract's environment (<c>K_SERVICE</c>, <c>K_REVISION</c>,
/// <c>K_CONFIGURATION</c>; <c>PORT</c> comes from the agent) at the scale the autoscaler decided.
/// </summary>
public static class RevisionDeployment
{
    public static string NameOf(string revision) => revision + "-deployment";

    public static Resource Build(Resource revision, int replicas)
    {
        var spec = revision.GetSpec<RevisionSpec>();
        var labels = revision.Metadata.Labels ?? new Dictionary<string, string>();
        var podLabels = new Dictionary<string, string>(labels) { [ServingLabels.Revision] = revision.Metadata.Name };
        var service = labels.GetValueOrDefault(ServingLabels.Service, "");
        var configuration = labels.GetValueOrDefault(ServingLabels.Configuration, "");
        var containers = spec.PodSpec.Containers.Select((c, i) => i > 0 ? c with { Name = c.Name ?? $"container-{i}" } : c with
        {
            Name = c.Name ?? "user-container", // Knative's name for an unnamed container
            Env =
            [
                .. c.Env,
                new EnvVar { Name = "K_SERVICE", Value = service },
                new EnvVar { Name = "K_REVISION", Value = revision.Metadata.Name },
                new EnvVar { Name = "K_CONFIGURATION", Value = configuration },
            ],
            // Knative probes the user container over TCP unless it declares a probe.
            ReadinessProbe = c.ReadinessProbe ?? new Probe { TcpSocket = new TcpSocketAction { Port = 8080 }, PeriodSeconds = 1 },
        }).ToList();
        return new Resource(
            "apps/v1",
            "Deployment",
            new ObjectMeta { Name = NameOf(revision.Metadata.Name), Namespace = revision.Key.Namespace, Labels = podLabels },
            new DeploymentSpec
            {
                Replicas = replicas,
                Selector = new LabelSelector { MatchLabels = new Dictionary<string, string> { [ServingLabels.Revision] = revision.Metadata.Name } },
                Template = new PodTemplateSpec
                {
                    Metadata = new PodTemplateMetadata { Labels = podLabels, Annotations = revision.Metadata.Annotations ?? new Dictionary<string, string>() },
                    Spec = spec.PodSpec with
                    {
                        Containers = containers,
                        // Knative: in-flight requests may run for timeoutSeconds after SIGTERM.
                        TerminationGracePeriodSeconds = spec.PodSpec.TerminationGracePeriodSeconds ?? spec.TimeoutSeconds ?? 300,
                    },
                },
            });
    }
}
