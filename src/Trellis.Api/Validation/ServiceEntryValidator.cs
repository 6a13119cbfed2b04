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

        // Istio's rules per resolution (pkg/config/validation ValidateServiceEntry).
        var resolution = spec.Resolution ?? ServiceEntryResolution.None;
        if (resolution == ServiceEntryResolution.None && spec.Endpoints.Count > 0)
        {
            ctx.Error("spec.endpoints", "no endpoints should be provided for resolution NONE: requests go to the address they were sent to");
        }

        if (resolution == ServiceEntryResolution.DnsRoundRobin && spec.Endpoints.Count > 1)
        {
            ctx.Error("spec.endpoints", "DNS_ROUND_ROBIN takes at most one endpoint");
        }

        if (resolution is ServiceEntryResolution.Dns or ServiceEntryResolution.DnsRoundRobin && spec.Endpoints.Count == 0)
        {
            for (var i = 0; i < spec.Hosts.Count; i++)
            {
                if (spec.Hosts[i].StartsWith('*'))
                {
                    ctx.Error($"spec.hosts[{i}]", $"a wildcard host cannot be resolved by DNS: give endpoints or use resolution NONE");
                }
            }
        }

        for (var i = 0; i < spec.Endpoints.Count; i++)
        {
            var endpoint = spec.Endpoints[i];
            if (string.IsNullOrEmpty(endpoint.Address) && endpoint.Network is null)
            {
                ctx.Error($"spec.endpoints[{i}].address", "an endpoint needs an address");
            }
            else if (resolution == ServiceEntryResolution.Static && endpoint.Address is { Length: > 0 } address
                && !System.Net.IPAddress.TryParse(address, out _) && !address.StartsWith("unix://", StringComparison.Ordinal))
            {
                ctx.Error($"spec.endpoints[{i}].address", $"\"{address}\" is not an IP address (STATIC resolution; use DNS for names)");
            }
            else if (endpoint.Address is { Length: > 0 } name && !System.Net.IPAddress.TryParse(name, out _) && !name.StartsWith("unix://", StringComparison.Ordinal)
                && Uri.CheckHostName(name) != UriHostNameType.Dns)
            {
                ctx.Error($"spec.endpoints[{i}].address", $"\"{name}\" is not an IP address or host name");
            }

            foreach (var (name, port) in endpoint.Ports)
            {
                Checks.Port(port, $"spec.endpoints[{i}].ports[{name}]", ctx);
            }

            Checks.Labels(endpoint.Labels, $"spec.endpoints[{i}].labels", ctx);
        }
    }
}
