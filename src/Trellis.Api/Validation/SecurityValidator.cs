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

            for (var f = 0; f < rule.From.Count; f++)
            {
                var source = rule.From[f].Source;
                if (source == new Source())
                {
                    ctx.Error($"spec.rules[{r}].from[{f}].source", "a source must set at least one field");
                }

                foreach (var (blocks, field) in new[] { (source.IpBlocks, "ipBlocks"), (source.NotIpBlocks, "notIpBlocks"), (source.RemoteIpBlocks, "remoteIpBlocks"), (source.NotRemoteIpBlocks, "notRemoteIpBlocks") })
                {
                    for (var b = 0; b < blocks.Count; b++)
                    {
                        if (!IpBlock(blocks[b]))
                        {
                            ctx.Error($"spec.rules[{r}].from[{f}].source.{field}[{b}]", $"\"{blocks[b]}\" is not an IP address or CIDR block");
                        }
                    }
                }
            }

            for (var t = 0; t < rule.To.Count; t++)
            {
                if (rule.To[t].Operation == new Operation())
                {
                    ctx.Error($"spec.rules[{r}].to[{t}].operation", "an operation must set at least one field");
                }
            }

            for (var w = 0; w < rule.When.Count; w++)
            {
                if (rule.When[w].Values.Count == 0 && rule.When[w].NotValues.Count == 0)
                {
                    ctx.Error($"spec.rules[{r}].when[{w}]", "a condition needs values or notValues");
                }

                if (ConditionKeys.Problem(rule.When[w].Key) is { } problem)
                {
                    ctx.Error($"spec.rules[{r}].when[{w}].key", problem);
                }
                else if (rule.When[w].Key is ConditionKeys.SourceIp or ConditionKeys.RemoteIp or ConditionKeys.DestinationIp)
                {
                    foreach (var value in rule.When[w].Values.Concat(rule.When[w].NotValues).Where(v => !IpBlock(v)))
                    {
                        ctx.Error($"spec.rules[{r}].when[{w}]", $"\"{value}\" is not an IP address or CIDR block");
                    }
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

            if (rule.Jwks is { } jwks && JwksDocument.Check(jwks) is { } problem)
            {
                ctx.Error($"spec.jwtRules[{i}].jwks", problem);
            }

            Checks.Duration(rule.Timeout, $"spec.jwtRules[{i}].timeout", ctx);
            if (rule.OutputPayloadToHeader is { } payloadHeader && !IsHeaderName(payloadHeader))
            {
                ctx.Error($"spec.jwtRules[{i}].outputPayloadToHeader", $"\"{payloadHeader}\" is not an HTTP header name");
            }

            for (var c = 0; c < rule.OutputClaimToHeaders.Count; c++)
            {
                if (!IsHeaderName(rule.OutputClaimToHeaders[c].Header))
                {
                    ctx.Error($"spec.jwtRules[{i}].outputClaimToHeaders[{c}].header", $"\"{rule.OutputClaimToHeaders[c].Header}\" is not an HTTP header name");
                }
            }
        }
    }

    /// <summary>An HTTP field name (RFC 9110 §5.1: a token), which the proxy sends upstream as it is written.</summary>
    private static bool IsHeaderName(string name) =>
        name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal));

    /// <summary>An address or a CIDR block (<c>10.0.0.0/8</c>, <c>::1</c>), as Istio's ipBlocks take them.</summary>
    private static bool IpBlock(string text) => Trellis.Api.Security.IpBlock.TryParse(text, out _);

    private static void TargetExclusive(bool hasSelector, bool hasTarget, ValidationContext ctx)
    {
        if (hasSelector && hasTarget)
        {
            ctx.Error("spec.selector", "selector and targetRef(s) are mutually exclusive");
        }
    }
}
