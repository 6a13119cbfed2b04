using Trellis.Api.Security;

namespace Trellis.Api.Validation;

/// <summary>Istio's security policy rules (PeerAuthentication, AuthorizationPolicy, RequestAuthentication).</summary>
internal static class SecurityValidator
{
    public static void Validate(PeerAuthenticationSpec spec, ValidationContext ctx)
    {
        if (spec.PortLevelMtls.Count > 0 && (spec.Selector is null || spec.Selector.MatchLabels.Count == 0))
        {
            ctx.Error("spec.portLevelMtls", "portLevelMtls needs a workload selector");
        }

        foreach (var key in spec.PortLevelMtls.Keys)
        {
            if (!int.TryParse(key, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                ctx.Error($"spec.portLevelMtls[{key}]", $"\"{key}\" is not a port number");
            }
        }
    }

    public static void Validate(AuthorizationPolicySpec spec, ValidationContext ctx)
    {
        if (spec.Action == AuthorizationAction.Custom && spec.Provider is null)
        {
            ctx.Error("spec.provider", "CUSTOM action needs a provider");
        }

        if (spec.Action != AuthorizationAction.Custom && spec.Provider is not null)
        {
            ctx.Error("spec.provider", "provider is only allowed with the CUSTOM action");
        }

        TargetExclusive(spec.Selector is not null, spec.TargetRef is not null || spec.TargetRefs.Count > 0, ctx);
        for (var r = 0; r < spec.Rules.Count; r++)
        {
            var rule = spec.Rules[r];
            for (var t = 0; t < rule.To.Count; t++)
            {
                var op = rule.To[t].Operation;
                foreach (var (ports, field) in new[] { (op.Ports, "ports"), (op.NotPorts, "notPorts") })
                {
                    for (var p = 0; p < ports.Count; p++)
                    {
                        if (!int.TryParse(ports[p], System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
                        {
                            ctx.Error($"spec.rules[{r}].to[{t}].operation.{field}[{p}]", $"\"{ports[p]}\" is not a port number");
                        }
                    }
                }
            }

            for (var w = 0; w < rule.When.Count; w++)
            {
                if (rule.When[w].Values.Count == 0 && rule.When[w].NotValues.Count == 0)
                {
                    ctx.Error($"spec.rules[{r}].when[{w}]", "a condition needs values or notValues");
                }
            }
        }
    }

    public static void Validate(RequestAuthenticationSpec spec, ValidationContext ctx)
    {
        TargetExclusive(spec.Selector is not null, spec.TargetRef is not null || spec.TargetRefs.Count > 0, ctx);
        Checks.Unique(spec.JwtRules, j => j.Issuer, "spec.jwtRules", "issuer", ctx);
        for (var i = 0; i < spec.JwtRules.Count; i++)
        {
            var rule = spec.JwtRules[i];
            if (rule.Issuer.Length == 0)
            {
                ctx.Error($"spec.jwtRules[{i}].issuer", "issuer must not be empty");
            }

            if (rule.JwksUri is { } uri && !Uri.TryCreate(uri, UriKind.Absolute, out _))
            {
                ctx.Error($"spec.jwtRules[{i}].jwksUri", $"\"{uri}\" is not an absolute URI");
            }

            Checks.Duration(rule.Timeout, $"spec.jwtRules[{i}].timeout", ctx);
        }
    }

    private static void TargetExclusive(bool hasSelector, bool hasTarget, ValidationContext ctx)
    {
        if (hasSelector && hasTarget)
        {
            ctx.Error("spec.selector", "selector and targetRef(s) are mutually exclusive");
        }
    }
}
