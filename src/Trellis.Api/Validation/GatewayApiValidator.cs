using Trellis.Api.GatewayApi;

namespace Trellis.Api.Validation;

/// <summary>The Gateway API's CRD validation rules for Gateway, HTTPRoute, GRPCRoute, TCPRoute and TLSRoute.</summary>
internal static partial class GatewayApiValidator
{
    private static readonly HashSet<string> FilterTypes = ["RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror", "RequestRedirect", "URLRewrite", "CORS", "ExtensionRef", "ExternalAuth"];

    public static void Validate(GatewayApiGatewaySpec spec, ValidationContext ctx)
    {
        if (spec.Listeners.Count == 0)
        {
            ctx.Error("spec.listeners", "at least one listener is required");
        }

        Checks.Unique(spec.Listeners, l => l.Name, "spec.listeners", "listener name", ctx);
        for (var i = 0; i < spec.Listeners.Count; i++)
        {
            var listener = spec.Listeners[i];
            var path = $"spec.listeners[{i}]";
            if (!Names.IsDns1123Subdomain(listener.Name))
            {
                ctx.Error($"{path}.name", $"\"{listener.Name}\" must be an RFC 1123 subdomain");
            }

            Checks.Port(listener.Port, $"{path}.port", ctx);
            if (listener.Hostname is { } hostname)
            {
                Checks.Host(hostname, $"{path}.hostname", ctx);
            }

            if (listener.Protocol is "HTTPS" or "TLS" && listener.Tls is null)
            {
                ctx.Error($"{path}.tls", $"a {listener.Protocol} listener needs tls");
            }
        }
    }

    public static void Validate(HttpRouteSpec spec, ValidationContext ctx)
    {
        Parents(spec.ParentRefs, spec.Hostnames, ctx);
        for (var r = 0; r < spec.Rules.Count; r++)
        {
            var rule = spec.Rules[r];
            var path = $"spec.rules[{r}]";
            for (var m = 0; m < rule.Matches.Count; m++)
            {
                var match = rule.Matches[m];
                var matchPath = $"{path}.matches[{m}]";
                if (match.Path is { } p)
                {
                    if (p.Type is not null and not "Exact" and not "PathPrefix" and not "RegularExpression")
                    {
                        ctx.Error($"{matchPath}.path.type", $"\"{p.Type}\" is not Exact, PathPrefix or RegularExpression");
                    }
                    else if (p.Type != "RegularExpression" && p.Value is { } value && !value.StartsWith('/'))
                    {
                        ctx.Error($"{matchPath}.path.value", $"\"{value}\" must start with '/'");
                    }
                    else if (p.Type == "RegularExpression" && p.Value is { } regex)
                    {
                        Checks.Regex(regex, $"{matchPath}.path.value", ctx);
                    }
                }

                HeaderMatches(match.Headers, $"{matchPath}.headers", ctx);
                HeaderMatches(match.QueryParams, $"{matchPath}.queryParams", ctx);
            }

            Filters(rule.Filters, $"{path}.filters", ctx);
            Backends(rule.BackendRefs, $"{path}.backendRefs", ctx);
            Checks.Duration(rule.Timeouts?.Request, $"{path}.timeouts.request", ctx);
            Checks.Duration(rule.Timeouts?.BackendRequest, $"{path}.timeouts.backendRequest", ctx);
            Checks.Duration(rule.Retry?.Backoff, $"{path}.retry.backoff", ctx);
            if (rule.Timeouts is { Request: { } request, BackendRequest: { } backend }
                && Durations.TryParse(request, out var total) && Durations.TryParse(backend, out var perTry)
                && total > TimeSpan.Zero && perTry > total)
            {
                ctx.Error($"{path}.timeouts.backendRequest", "backendRequest must not be longer than request");
            }
        }
    }

    public static void Validate(GrpcRouteSpec spec, ValidationContext ctx)
    {
        Parents(spec.ParentRefs, spec.Hostnames, ctx);
        for (var r = 0; r < spec.Rules.Count; r++)
        {
            var rule = spec.Rules[r];
            for (var m = 0; m < rule.Matches.Count; m++)
            {
                if (rule.Matches[m].Method is { Service: null, Method: null })
                {
                    ctx.Error($"spec.rules[{r}].matches[{m}].method", "one of service or method must be set");
                }
                else if (rule.Matches[m].Method is { } method)
                {
                    GrpcMethod(method, $"spec.rules[{r}].matches[{m}].method", ctx);
                }

                HeaderMatches(rule.Matches[m].Headers, $"spec.rules[{r}].matches[{m}].headers", ctx);
            }

            Filters(rule.Filters, $"spec.rules[{r}].filters", ctx);
            Backends(rule.BackendRefs, $"spec.rules[{r}].backendRefs", ctx);
        }
    }

    /// <summary>The spec's rules for a method match: an Exact service is a dotted name and a method a name; a RegularExpression compiles.</summary>
    private static void GrpcMethod(GrpcMethodMatch method, string path, ValidationContext ctx)
    {
        switch (method.Type ?? "Exact")
        {
            case "Exact":
                if (method.Service is { } service && !GrpcServiceName().IsMatch(service))
                {
                    ctx.Error($"{path}.service", $"\"{service}\" is not a gRPC service name (dotted identifiers, e.g. grpc.health.v1.Health)");
                }

                if (method.Method is { } name && !GrpcMethodName().IsMatch(name))
                {
                    ctx.Error($"{path}.method", $"\"{name}\" is not a gRPC method name");
                }

                break;
            case "RegularExpression":
                if (method.Service is { } servicePattern)
                {
                    Checks.Regex(servicePattern, $"{path}.service", ctx);
                }

                if (method.Method is { } methodPattern)
                {
                    Checks.Regex(methodPattern, $"{path}.method", ctx);
                }

                break;
            default:
                ctx.Error($"{path}.type", $"\"{method.Type}\" is not Exact or RegularExpression");
                break;
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$")]
    private static partial System.Text.RegularExpressions.Regex GrpcServiceName();

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z_][A-Za-z_0-9]*$")]
    private static partial System.Text.RegularExpressions.Regex GrpcMethodName();

    private static void Parents(IReadOnlyList<ParentReference> parents, IReadOnlyList<string> hostnames, ValidationContext ctx)
    {
        for (var i = 0; i < parents.Count; i++)
        {
            Checks.Port(parents[i].Port, $"spec.parentRefs[{i}].port", ctx);
        }

        for (var i = 0; i < hostnames.Count; i++)
        {
            Checks.Host(hostnames[i], $"spec.hostnames[{i}]", ctx);
        }
    }

    private static void HeaderMatches(IReadOnlyList<HttpHeaderMatch> matches, string path, ValidationContext ctx)
    {
        Checks.Unique(matches, h => h.Name.ToLowerInvariant(), path, "name", ctx);
        for (var i = 0; i < matches.Count; i++)
        {
            if (matches[i].Type is not null and not "Exact" and not "RegularExpression")
            {
                ctx.Error($"{path}[{i}].type", $"\"{matches[i].Type}\" is not Exact or RegularExpression");
            }
            else if (matches[i].Type == "RegularExpression")
            {
                Checks.Regex(matches[i].Value, $"{path}[{i}].value", ctx);
            }
        }
    }

    private static void Filters(IReadOnlyList<HttpRouteFilter> filters, string path, ValidationContext ctx)
    {
        for (var i = 0; i < filters.Count; i++)
        {
            var filter = filters[i];
            var filterPath = $"{path}[{i}]";
            if (!FilterTypes.Contains(filter.Type))
            {
                ctx.Error($"{filterPath}.type", $"\"{filter.Type}\" is not a filter type ({string.Join(", ", FilterTypes)})");
                continue;
            }

            // The type names the one field that must be set (the CRD's CEL rules).
            var set = filter.Type switch
            {
                "RequestHeaderModifier" => filter.RequestHeaderModifier is not null,
                "ResponseHeaderModifier" => filter.ResponseHeaderModifier is not null,
                "RequestMirror" => filter.RequestMirror is not null,
                "RequestRedirect" => filter.RequestRedirect is not null,
                "URLRewrite" => filter.UrlRewrite is not null,
                "CORS" => filter.Cors is not null,
                "ExtensionRef" => filter.ExtensionRef is not null,
                _ => true,
            };
            if (!set)
            {
                ctx.Error(filterPath, $"a {filter.Type} filter needs its {filter.Type} configuration");
            }

            if (filter.RequestRedirect is { } redirect)
            {
                if (redirect.StatusCode is { } code && code is not (301 or 302 or 303 or 307 or 308))
                {
                    ctx.Error($"{filterPath}.requestRedirect.statusCode", $"{code} is not 301, 302, 303, 307 or 308");
                }

                Checks.Port(redirect.Port, $"{filterPath}.requestRedirect.port", ctx);
                PathModifier(redirect.Path, $"{filterPath}.requestRedirect.path", ctx);
            }

            PathModifier(filter.UrlRewrite?.Path, $"{filterPath}.urlRewrite.path", ctx);
            if (filter.RequestMirror is { } mirror)
            {
                if (mirror.Percent is { } percent)
                {
                    Checks.Percentage(percent, $"{filterPath}.requestMirror.percent", ctx);
                }

                if (mirror.Percent is not null && mirror.Fraction is not null)
                {
                    ctx.Error($"{filterPath}.requestMirror", "percent and fraction are mutually exclusive");
                }

                if (mirror.Fraction is { } f && (f.Numerator < 0 || (f.Denominator ?? 100) < 1 || f.Numerator > (f.Denominator ?? 100)))
                {
                    ctx.Error($"{filterPath}.requestMirror.fraction", "numerator must be in 0..denominator and denominator at least 1");
                }
            }
        }
    }

    private static void PathModifier(HttpPathModifier? modifier, string path, ValidationContext ctx)
    {
        switch (modifier)
        {
            case null:
                return;
            case { Type: "ReplaceFullPath", ReplaceFullPath: null }:
                ctx.Error(path, "ReplaceFullPath needs replaceFullPath");
                break;
            case { Type: "ReplacePrefixMatch", ReplacePrefixMatch: null }:
                ctx.Error(path, "ReplacePrefixMatch needs replacePrefixMatch");
                break;
            case { Type: not "ReplaceFullPath" and not "ReplacePrefixMatch" }:
                ctx.Error($"{path}.type", $"\"{modifier.Type}\" is not ReplaceFullPath or ReplacePrefixMatch");
                break;
        }
    }

    private static void Backends(IReadOnlyList<HttpBackendRef> backends, string path, ValidationContext ctx)
    {
        for (var i = 0; i < backends.Count; i++)
        {
            var backend = backends[i];
            Backend(backend.Group, backend.Kind, backend.Port, backend.Weight, $"{path}[{i}]", ctx);
            Filters(backend.Filters, $"{path}[{i}].filters", ctx);
        }
    }

    public static void Validate(TcpRouteSpec spec, ValidationContext ctx)
    {
        Parents(spec.ParentRefs, [], ctx);
        if (spec.Rules.Count is 0 or > 16)
        {
            ctx.Error("spec.rules", "a TCPRoute has 1 to 16 rules");
        }

        for (var r = 0; r < spec.Rules.Count; r++)
        {
            var backends = spec.Rules[r].BackendRefs;
            for (var i = 0; i < backends.Count; i++)
            {
                Backend(backends[i].Group, backends[i].Kind, backends[i].Port, backends[i].Weight, $"spec.rules[{r}].backendRefs[{i}]", ctx);
            }
        }
    }

    public static void Validate(TlsRouteSpec spec, ValidationContext ctx)
    {
        Parents(spec.ParentRefs, spec.Hostnames, ctx);
        if (spec.Rules.Count is 0 or > 16)
        {
            ctx.Error("spec.rules", "a TLSRoute has 1 to 16 rules");
        }

        for (var r = 0; r < spec.Rules.Count; r++)
        {
            var backends = spec.Rules[r].BackendRefs;
            for (var i = 0; i < backends.Count; i++)
            {
                Backend(backends[i].Group, backends[i].Kind, backends[i].Port, backends[i].Weight, $"spec.rules[{r}].backendRefs[{i}]", ctx);
            }
        }
    }

    /// <summary>The CRD's rules for any backendRef: a port in range, a weight in 0..1000000, a port for a Service.</summary>
    private static void Backend(string? group, string? kind, int? port, int? weight, string path, ValidationContext ctx)
    {
        Checks.Port(port, $"{path}.port", ctx);
        if (weight is { } w && w is < 0 or > 1_000_000)
        {
            ctx.Error($"{path}.weight", $"weight {w} is not in 0..1000000");
        }

        // A Service backend needs a port (CRD rule); other kinds define their own.
        if ((kind ?? "Service") == "Service" && string.IsNullOrEmpty(group) && port is null)
        {
            ctx.Error($"{path}.port", "a Service backend needs a port");
        }
    }
}
