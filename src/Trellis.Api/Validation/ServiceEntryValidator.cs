using Trellis.Api.Networking;

namespace Trellis.Api.Validation;

/// <summary>Istio's ServiceEntry rules: hosts, unique ports, endpoints that fit the resolution.</summary>
internal static class ServiceEntryValidator
{
    public static void Validate(ServiceEntrySpec spec, ValidationContext ctx)
    {
        if (spec.Hosts.Count == 0)
        {
            ctx.Error("spec.hosts", "at least one host is required");
        }

        for (var i = 0; i < spec.Hosts.Count; i++)
        {
            Checks.Host(spec.Hosts[i], $"spec.hosts[{i}]", ctx);
        }

        Checks.Unique(spec.Ports, p => p.Name, "spec.ports", "port name", ctx);
        Checks.Unique(spec.Ports, p => p.Number.ToString(System.Globalization.CultureInfo.InvariantCulture), "spec.ports", "port number", ctx);
        for (var i = 0; i < spec.Ports.Count; i++)
        {
            Checks.Port(spec.Ports[i].Number, $"spec.ports[{i}].number", ctx);
            Checks.Port(spec.Ports[i].TargetPort, $"spec.ports[{i}].targetPort", ctx);
        }

        if (spec.Resolution == ServiceEntryResolution.Static && spec.Endpoints.Count == 0 && spec.WorkloadSelector is null)
        {
            ctx.Error("spec.endpoints", "STATIC resolution needs endpoints or a workloadSelector");
        }

        if (spec.Endpoints.Count > 0 && spec.WorkloadSelector is not null)
        {
            ctx.Error("spec.workloadSelector", "endpoints and workloadSelector are mutually exclusive");
        }

        for (var i = 0; i < spec.Endpoints.Count; i++)
        {
            var endpoint = spec.Endpoints[i];
            if (string.IsNullOrEmpty(endpoint.Address) && endpoint.Network is null)
            {
                ctx.Error($"spec.endpoints[{i}].address", "an endpoint needs an address");
            }

            foreach (var (name, port) in endpoint.Ports)
            {
                Checks.Port(port, $"spec.endpoints[{i}].ports[{name}]", ctx);
            }

            Checks.Labels(endpoint.Labels, $"spec.endpoints[{i}].labels", ctx);
        }
    }
}
