using Trellis.Api.Networking;

namespace Trellis.Api.Validation;

/// <summary>Istio's Sidecar rules: egress hosts in namespace/host form, valid ports.</summary>
internal static class SidecarValidator
{
    public static void Validate(SidecarSpec spec, ValidationContext ctx)
    {
        for (var i = 0; i < spec.Ingress.Count; i++)
        {
            Checks.Port(spec.Ingress[i].Port.Number, $"spec.ingress[{i}].port.number", ctx);
        }

        for (var i = 0; i < spec.Egress.Count; i++)
        {
            var egress = spec.Egress[i];
            Checks.Port(egress.Port?.Number, $"spec.egress[{i}].port.number", ctx);
            if (egress.Hosts.Count == 0)
            {
                ctx.Error($"spec.egress[{i}].hosts", "at least one host is required");
            }

            for (var h = 0; h < egress.Hosts.Count; h++)
            {
                if (egress.Hosts[h].Split('/') is not [{ Length: > 0 }, { Length: > 0 }])
                {
                    ctx.Error($"spec.egress[{i}].hosts[{h}]", $"\"{egress.Hosts[h]}\" must be namespace/host ('.' and '*' allowed for the namespace)");
                }
            }
        }

        if (spec.OutboundTrafficPolicy?.Mode is { } mode && mode is not "REGISTRY_ONLY" and not "ALLOW_ANY")
        {
            ctx.Error("spec.outboundTrafficPolicy.mode", $"\"{mode}\" is not REGISTRY_ONLY or ALLOW_ANY");
        }
    }
}
