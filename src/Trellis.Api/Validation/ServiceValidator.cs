using System.Globalization;
using Trellis.Api.Workloads;

namespace Trellis.Api.Validation;

/// <summary>Kubernetes' Service rules: unique named ports, valid target ports and type.</summary>
internal static class ServiceValidator
{
    public static void Validate(ServiceSpec spec, ValidationContext ctx)
    {
        Checks.Labels(spec.Selector, "spec.selector", ctx);
        if (spec.Type is { } type && type is not "ClusterIP" and not "NodePort" and not "LoadBalancer" and not "ExternalName")
        {
            ctx.Error("spec.type", $"\"{type}\" is not ClusterIP, NodePort, LoadBalancer or ExternalName");
        }

        if (spec.Type == "ExternalName" && string.IsNullOrEmpty(spec.ExternalName))
        {
            ctx.Error("spec.externalName", "an ExternalName service needs externalName");
        }

        Checks.Unique(spec.Ports, p => p.Name, "spec.ports", "port name", ctx);
        Checks.Unique(spec.Ports, p => $"{p.Port.ToString(CultureInfo.InvariantCulture)}/{p.Protocol ?? "TCP"}", "spec.ports", "port", ctx);
        for (var i = 0; i < spec.Ports.Count; i++)
        {
            var port = spec.Ports[i];
            var path = $"spec.ports[{i}]";
            if (spec.Ports.Count > 1 && string.IsNullOrEmpty(port.Name))
            {
                ctx.Error($"{path}.name", "ports must be named when a service has more than one");
            }
            else if (port.Name is { Length: > 0 } name && !Names.IsDns1123Label(name))
            {
                ctx.Error($"{path}.name", $"\"{name}\" must be an RFC 1123 label");
            }

            Checks.Port(port.Port, $"{path}.port", ctx);
            Checks.Port(port.NodePort, $"{path}.nodePort", ctx);
            WorkloadValidator.PortRef(port.TargetPort, $"{path}.targetPort", ctx);
            WorkloadValidator.Protocol(port.Protocol, $"{path}.protocol", ctx);
        }
    }
}
