using Trellis.Api.Workloads;

namespace Trellis.Api.Validation;

/// <summary>Kubernetes' rules for Deployments, pod specs and containers, as far as the local runtime relies on them.</summary>
internal static class WorkloadValidator
{
    public static void Validate(DeploymentSpec spec, ValidationContext ctx)
    {
        if (spec.Replicas is < 0)
        {
            ctx.Error("spec.replicas", "replicas must not be negative");
        }

        if (spec.MinReadySeconds is < 0)
        {
            ctx.Error("spec.minReadySeconds", "must not be negative");
        }

        Checks.Selector(spec.Selector, "spec.selector", ctx);
        var templateLabels = spec.Template.Metadata?.Labels ?? new Dictionary<string, string>();
        Checks.Labels(templateLabels, "spec.template.metadata.labels", ctx);
        if (spec.Selector.MatchLabels.Count == 0 && spec.Selector.MatchExpressions.Count == 0)
        {
            ctx.Error("spec.selector", "selector must not be empty");
        }
        else if (!spec.Selector.Matches(templateLabels))
        {
            ctx.Error("spec.template.metadata.labels", "selector does not match template labels");
        }

        if (spec.Strategy?.Type is { } type && type is not "RollingUpdate" and not "Recreate")
        {
            ctx.Error("spec.strategy.type", $"\"{type}\" is not RollingUpdate or Recreate");
        }

        PodSpec(spec.Template.Spec, "spec.template.spec", ctx, containerNamesRequired: true);
    }

    public static void PodSpec(PodSpec spec, string path, ValidationContext ctx, bool containerNamesRequired)
    {
        if (spec.Containers.Count == 0)
        {
            ctx.Error($"{path}.containers", "at least one container is required");
        }

        if (spec.TerminationGracePeriodSeconds is < 0)
        {
            ctx.Error($"{path}.terminationGracePeriodSeconds", "must not be negative");
        }

        if (spec.RestartPolicy is { } restart && restart is not "Always" and not "OnFailure" and not "Never")
        {
            ctx.Error($"{path}.restartPolicy", $"\"{restart}\" is not Always, OnFailure or Never");
        }

        Checks.Unique(spec.Containers.Where(c => c.Name is not null).ToList(), c => c.Name!, $"{path}.containers", "container name", ctx);
        for (var i = 0; i < spec.Containers.Count; i++)
        {
            Container(spec.Containers[i], $"{path}.containers[{i}]", ctx, containerNamesRequired);
        }

        for (var i = 0; i < spec.InitContainers.Count; i++)
        {
            Container(spec.InitContainers[i], $"{path}.initContainers[{i}]", ctx, containerNamesRequired);
            if (spec.Containers.Any(c => c.Name == spec.InitContainers[i].Name))
            {
                ctx.Error($"{path}.initContainers[{i}].name", $"duplicate container name \"{spec.InitContainers[i].Name}\"", Diagnostics.DiagnosticCodes.DuplicateEntry);
            }
        }

    }

    private static void Container(Container container, string path, ValidationContext ctx, bool nameRequired)
    {
        if (container.Name is null)
        {
            if (nameRequired)
            {
                ctx.Error($"{path}.name", "missing required field \"name\"", Diagnostics.DiagnosticCodes.MissingField);
            }
        }
        else if (!Names.IsDns1123Label(container.Name))
        {
            ctx.Error($"{path}.name", $"\"{container.Name}\" must be an RFC 1123 label");
        }

        if (container.ImagePullPolicy is { } pull && pull is not "Always" and not "IfNotPresent" and not "Never")
        {
            ctx.Error($"{path}.imagePullPolicy", $"\"{pull}\" is not Always, IfNotPresent or Never");
        }

        Checks.Unique(container.Env, e => e.Name, $"{path}.env", "variable", ctx);
        for (var i = 0; i < container.Env.Count; i++)
        {
            var env = container.Env[i];
            if (env.Name.Length == 0)
            {
                ctx.Error($"{path}.env[{i}].name", "name must not be empty");
            }

            if (env.Value is not null && env.ValueFrom is not null)
            {
                ctx.Error($"{path}.env[{i}]", "value and valueFrom are mutually exclusive");
            }
        }

        Checks.Unique(container.Ports, p => p.Name, $"{path}.ports", "port name", ctx);
        for (var i = 0; i < container.Ports.Count; i++)
        {
            var port = container.Ports[i];
            Checks.Port(port.ContainerPort, $"{path}.ports[{i}].containerPort", ctx);
            Checks.Port(port.HostPort, $"{path}.ports[{i}].hostPort", ctx);
            if (port.Name is { } name && !Names.IsPortName(name))
            {
                ctx.Error($"{path}.ports[{i}].name", $"\"{name}\" must be an IANA service name (at most 15 lowercase alphanumerics or '-')");
            }

            Protocol(port.Protocol, $"{path}.ports[{i}].protocol", ctx);
        }

        Probe(container.ReadinessProbe, $"{path}.readinessProbe", ctx);
        Probe(container.LivenessProbe, $"{path}.livenessProbe", ctx);
        Probe(container.StartupProbe, $"{path}.startupProbe", ctx);
    }

    private static void Probe(Probe? probe, string path, ValidationContext ctx)
    {
        if (probe is null)
        {
            return;
        }

        var handlers = (probe.HttpGet is null ? 0 : 1) + (probe.TcpSocket is null ? 0 : 1) + (probe.Exec is null ? 0 : 1) + (probe.Grpc is null ? 0 : 1);
        if (handlers != 1)
        {
            ctx.Error(path, "exactly one of httpGet, tcpSocket, exec or grpc must be set");
        }

        PortRef(probe.HttpGet?.Port, $"{path}.httpGet.port", ctx);
        PortRef(probe.TcpSocket?.Port, $"{path}.tcpSocket.port", ctx);
        Checks.Port(probe.Grpc?.Port, $"{path}.grpc.port", ctx);
        if (probe.HttpGet?.Scheme is { } scheme && scheme is not "HTTP" and not "HTTPS")
        {
            ctx.Error($"{path}.httpGet.scheme", $"\"{scheme}\" is not HTTP or HTTPS");
        }

        if (probe.Exec is { Command.Count: 0 })
        {
            ctx.Error($"{path}.exec.command", "command must not be empty");
        }

        foreach (var (value, field, min) in new[]
        {
            (probe.InitialDelaySeconds, "initialDelaySeconds", 0),
            (probe.PeriodSeconds, "periodSeconds", 1),
            (probe.TimeoutSeconds, "timeoutSeconds", 1),
            (probe.SuccessThreshold, "successThreshold", 1),
            (probe.FailureThreshold, "failureThreshold", 1),
        })
        {
            if (value < min)
            {
                ctx.Error($"{path}.{field}", $"must be at least {min}");
            }
        }
    }

    /// <summary>A port given as a number (1..65535) or as the name of a container port.</summary>
    public static void PortRef(IntOrString? port, string path, ValidationContext ctx)
    {
        switch (port)
        {
            case { IsInt: true } p:
                Checks.Port(p.IntValue, path, ctx);
                break;
            case { StringValue: { } name } when !Names.IsPortName(name):
                ctx.Error(path, $"\"{name}\" is not a port number or an IANA service name");
                break;
        }
    }

    public static void Protocol(string? protocol, string path, ValidationContext ctx)
    {
        if (protocol is not null and not "TCP" and not "UDP" and not "SCTP")
        {
            ctx.Error(path, $"\"{protocol}\" is not TCP, UDP or SCTP");
        }
    }
}
