using Trellis.Api;
using Trellis.Api.Eventing;
using Trellis.Api.Registry;
using Trellis.Api.Workloads;
using Trellis.Runtime;

namespace Trellis.Agent;

/// <summary>
/// Turns a <c>Deployment</c> into what the local runtime runs: the first container's command and args
/// as a process, its env (plus a SinkBinding's <c>K_SINK</c> and <c>K_CE_OVERRIDES</c>), working directory and readiness probe, with two extra ports for the
/// instance's proxy listeners. Returns an error instead when the Deployment cannot run locally.
/// </summary>
public static class DeploymentTranslator
{
    public static readonly IReadOnlyList<string> ProxyPorts = [WorkloadInstance.InboundPort, WorkloadInstance.OutboundPort];

    /// <summary>
    /// Pod template (Knative: revision template) annotation that starts instances in the node's
    /// pre-warmed .NET hosts. Opt-in, because a pooled function shares a runtime that started before
    /// it: the runtime settings (GC mode, <c>DOTNET_*</c> knobs) are the pool host's, and
    /// <c>Environment.GetCommandLineArgs()</c> and /proc show the pool host's command line.
    /// </summary>
    public const string PoolAnnotation = "serving.trellis.dev/pool";

    /// <summary>
    /// Pod template annotation (<c>"true"</c>) that binds the app port in the agent and passes the
    /// listening socket to the process as fd 3 with <c>LISTEN_FDS</c>/<c>LISTEN_PID</c> (systemd's
    /// socket activation; Kestrel: <c>UseSystemd()</c>). Opt-in, because an app that binds PORT
    /// itself would find it taken. The instance is then ready as soon as it is started and requests
    /// wait in the kernel's backlog until the app accepts them. docs/serving.md.
    /// </summary>
    public const string SocketActivationAnnotation = "serving.trellis.dev/socket-activation";

    /// <summary>The Deployment as this node runs it: with <paramref name="node"/>, only the replicas the scheduler placed there.</summary>
    public static (WorkloadSpec? Workload, string? Error) Translate(Resource deployment, string? node = null)
    {
        if (deployment.Spec is not DeploymentSpec spec)
        {
            return (null, "not a Deployment");
        }

        var container = spec.Template.Spec.Containers[0];
        var argv = container.Command.Concat(container.Args).ToList();
        if (container.Command.Count == 0)
        {
            return (null, $"containers[0] ({container.Name}) has no command: the local runtime runs processes, not images");
        }

        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var e in container.Env)
        {
            if ((e.Value ?? FieldRef(e, deployment)) is { } value)
            {
                env[e.Name] = value;
            }
        }

        // A SinkBinding's variables, recorded in the status by the control plane, replace the spec's own (Knative's Undo, then Do).
        var bound = SinkBindingEnv.Of(deployment.Status);
        if (bound.Count > 0)
        {
            env.Remove(SinkBindingEnv.CaCerts);
            foreach (var (name, value) in bound)
            {
                env[name] = value;
            }
        }

        var labels = spec.Template.Metadata?.Labels ?? new Dictionary<string, string>();
        var pool = spec.Template.Metadata?.Annotations.GetValueOrDefault(PoolAnnotation);
        if (pool is not null and not "dotnet")
        {
            return (null, $"annotation {PoolAnnotation}: \"{pool}\" is not a pool (\"dotnet\")");
        }

        var socketActivation = spec.Template.Metadata?.Annotations.GetValueOrDefault(SocketActivationAnnotation);
        if (socketActivation is not null and not "true" and not "false")
        {
            return (null, $"annotation {SocketActivationAnnotation}: \"{socketActivation}\" is not \"true\" or \"false\"");
        }

        return (new WorkloadSpec(
            Name: deployment.Metadata.Name,
            Namespace: deployment.Key.Namespace,
            Labels: labels,
            Replicas: node is null ? spec.Replicas ?? 1 : Placements.ReplicasOn(deployment, node),
            Command: argv[0],
            Args: argv.Skip(1).ToList(),
            Env: env,
            WorkingDirectory: container.WorkingDir,
            Readiness: Probe(container.ReadinessProbe),
            TerminationGracePeriod: TimeSpan.FromSeconds(spec.Template.Spec.TerminationGracePeriodSeconds ?? 30),
            ExtraPortNames: ProxyPorts)
        {
            Pool = pool,
            SocketActivation = socketActivation == "true",
        }, null);
    }

    /// <summary>
    /// The downward API's <c>fieldRef</c> for what is known per Deployment: <c>metadata.namespace</c>. The pod's name
    /// (<c>metadata.name</c>) is each instance's <c>HOSTNAME</c>; other sources (configMapKeyRef, secretKeyRef) are not read.
    /// </summary>
    private static string? FieldRef(Trellis.Api.Workloads.EnvVar e, Resource deployment) =>
        (string?)e.ValueFrom?["fieldRef"]?["fieldPath"] == "metadata.namespace" ? deployment.Key.Namespace : null;

    /// <summary>Kubernetes' probe defaults: period 10 s, timeout 1 s, failure threshold 3, success threshold 1. The port is always the instance's PORT.</summary>
    private static ProbeSpec? Probe(Trellis.Api.Workloads.Probe? probe) => probe switch
    {
        null => null,
        { HttpGet: { } get } => new ProbeSpec(ProbeKind.Http, get.Path ?? "/", Seconds(probe.InitialDelaySeconds, 0), Seconds(probe.PeriodSeconds, 10), Seconds(probe.TimeoutSeconds, 1), probe.FailureThreshold ?? 3, probe.SuccessThreshold ?? 1),
        _ => new ProbeSpec(ProbeKind.Tcp, null, Seconds(probe.InitialDelaySeconds, 0), Seconds(probe.PeriodSeconds, 10), Seconds(probe.TimeoutSeconds, 1), probe.FailureThreshold ?? 3, probe.SuccessThreshold ?? 1),
    };

    private static TimeSpan Seconds(int? value, int fallback) => TimeSpan.FromSeconds(value ?? fallback);
}
