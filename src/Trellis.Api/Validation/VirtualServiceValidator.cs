using Trellis.Api.Networking;

namespace Trellis.Api.Validation;

/// <summary>Istio's VirtualService rules (pilot/pkg/config/validation): one action per route, sane matches, weights, durations.</summary>
internal static class VirtualServiceValidator
{
    public static void Validate(VirtualServiceSpec spec, ValidationContext ctx)
    {
        if (spec.Hosts.Count == 0)
        {
            ctx.Error("spec.hosts", "at least one host is required");
        }

        for (var i = 0; i < spec.Hosts.Count; i++)
        {
            Checks.Host(spec.Hosts[i], $"spec.hosts[{i}]", ctx);
        }

        for (var i = 0; i < spec.Gateways.Count; i++)
        {
            GatewayReference(spec.Gateways[i], $"spec.gateways[{i}]", ctx);
        }

        for (var i = 0; i < spec.Http.Count; i++)
        {
            HttpRoute(spec.Http[i], $"spec.http[{i}]", ctx);
        }

        for (var i = 0; i < spec.Tcp.Count; i++)
        {
            L4Routes(spec.Tcp[i].Route, $"spec.tcp[{i}].route", ctx);
            for (var m = 0; m < spec.Tcp[i].Match.Count; m++)
            {
                Checks.Port(spec.Tcp[i].Match[m].Port, $"spec.tcp[{i}].match[{m}].port", ctx);
            }
        }

        for (var i = 0; i < spec.Tls.Count; i++)
        {
            L4Routes(spec.Tls[i].Route, $"spec.tls[{i}].route", ctx);
            for (var m = 0; m < spec.Tls[i].Match.Count; m++)
            {
                Checks.Port(spec.Tls[i].Match[m].Port, $"spec.tls[{i}].match[{m}].port", ctx);
            }
        }
    }

    private static void HttpRoute(HttpRoute route, string path, ValidationContext ctx)
    {
        // A route forwards, redirects, answers directly or delegates: exactly one (redirect may pair with nothing else).
        var actions = (route.Route.Count > 0 ? 1 : 0) + (route.Redirect is null ? 0 : 1) + (route.DirectResponse is null ? 0 : 1) + (route.Delegate is null ? 0 : 1);
        if (actions == 0)
        {
            ctx.Error(path, "a route needs one of route, redirect, directResponse or delegate");
        }
        else if (actions > 1)
        {
            ctx.Error(path, "route, redirect, directResponse and delegate are mutually exclusive");
        }

        for (var m = 0; m < route.Match.Count; m++)
        {
            Match(route.Match[m], $"{path}.match[{m}]", ctx);
        }

        Checks.Weights(route.Route.Select(d => d.Weight).ToList(), $"{path}.route", "weight", ctx);
        for (var d = 0; d < route.Route.Count; d++)
        {
            Destination(route.Route[d].Destination, $"{path}.route[{d}].destination", ctx);
        }

        Checks.Duration(route.Timeout, $"{path}.timeout", ctx);
        if (route.Retries is { } retries)
        {
            if (retries.Attempts is < 0)
            {
                ctx.Error($"{path}.retries.attempts", "attempts must not be negative");
            }

            Checks.Duration(retries.PerTryTimeout, $"{path}.retries.perTryTimeout", ctx);
            Checks.Duration(retries.Backoff, $"{path}.retries.backoff", ctx);
            foreach (var invalid in RetryOn.Invalid(retries.RetryOn ?? ""))
            {
                ctx.Error($"{path}.retries.retryOn", $"\"{invalid}\" is not a retry condition (5xx, gateway-error, reset, connect-failure, refused-stream, retriable-4xx, retriable-status-codes, retriable-headers, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable, ...) nor an HTTP status");
            }
        }

        if (route.Fault is { } fault)
        {
            Fault(fault, $"{path}.fault", ctx);
        }

        if (route.Redirect is { } redirect)
        {
            if (redirect.RedirectCode is { } code && code is < 300 or > 399)
            {
                ctx.Error($"{path}.redirect.redirectCode", $"{code} is not a redirect status (3xx)");
            }

            Checks.Port(redirect.Port, $"{path}.redirect.port", ctx);
            if (redirect.Port is not null && redirect.DerivePort is not null)
            {
                ctx.Error($"{path}.redirect", "port and derivePort are mutually exclusive");
            }
        }

        if (route.DirectResponse is { } direct)
        {
            if (direct.Status is < 200 or > 599)
            {
                ctx.Error($"{path}.directResponse.status", $"{direct.Status} is not an HTTP status (200..599)");
            }

            if (direct.Body is { String: not null, Bytes: not null })
            {
                ctx.Error($"{path}.directResponse.body", "string and bytes are mutually exclusive");
            }
            else if (direct.Body?.Bytes is { } bytes && !Convert.TryFromBase64String(bytes, new byte[bytes.Length], out _))
            {
                ctx.Error($"{path}.directResponse.body.bytes", "is not base64");
            }
        }

        if (route.Rewrite is { } rewrite)
        {
            if (rewrite.Uri is not null && rewrite.UriRegexRewrite is not null)
            {
                ctx.Error($"{path}.rewrite", "uri and uriRegexRewrite are mutually exclusive");
            }

            if (rewrite.UriRegexRewrite?.Match is { } regex)
            {
                Checks.Regex(regex, $"{path}.rewrite.uriRegexRewrite.match", ctx);
            }
        }

        if (route.Mirror is { } mirror)
        {
            Destination(mirror, $"{path}.mirror", ctx);
        }

        for (var i = 0; i < route.Mirrors.Count; i++)
        {
            Destination(route.Mirrors[i].Destination, $"{path}.mirrors[{i}].destination", ctx);
            Checks.Percentage(route.Mirrors[i].Percentage?.Value, $"{path}.mirrors[{i}].percentage.value", ctx);
        }

        Checks.Percentage(route.MirrorPercentage?.Value, $"{path}.mirrorPercentage.value", ctx);
        if (route.CorsPolicy is { } cors)
        {
            for (var i = 0; i < cors.AllowOrigins.Count; i++)
            {
                Checks.StringMatch(cors.AllowOrigins[i], $"{path}.corsPolicy.allowOrigins[{i}]", ctx);
            }

            Checks.Duration(cors.MaxAge, $"{path}.corsPolicy.maxAge", ctx);
            if (cors.UnmatchedPreflights is { } unmatched && unmatched is not ("UNSPECIFIED" or "FORWARD" or "IGNORE"))
            {
                ctx.Error($"{path}.corsPolicy.unmatchedPreflights", $"\"{unmatched}\" is not one of UNSPECIFIED, FORWARD, IGNORE");
            }
        }
    }

    private static void Match(HttpMatchRequest match, string path, ValidationContext ctx)
    {
        Optional(match.Uri, $"{path}.uri", ctx);
        Optional(match.Scheme, $"{path}.scheme", ctx);
        Optional(match.Method, $"{path}.method", ctx);
        Optional(match.Authority, $"{path}.authority", ctx);
        foreach (var (name, m) in match.Headers)
        {
            Checks.StringMatch(m, $"{path}.headers[{name}]", ctx, emptyMeansPresent: true);
        }

        foreach (var (name, m) in match.WithoutHeaders)
        {
            Checks.StringMatch(m, $"{path}.withoutHeaders[{name}]", ctx, emptyMeansPresent: true);
        }

        foreach (var (name, m) in match.QueryParams)
        {
            Checks.StringMatch(m, $"{path}.queryParams[{name}]", ctx, emptyMeansPresent: true);
        }

        Checks.Port(match.Port, $"{path}.port", ctx);
        Checks.Labels(match.SourceLabels, $"{path}.sourceLabels", ctx);
        for (var i = 0; i < match.Gateways.Count; i++)
        {
            GatewayReference(match.Gateways[i], $"{path}.gateways[{i}]", ctx);
        }
    }

    private static void Optional(StringMatch? match, string path, ValidationContext ctx)
    {
        if (match is not null)
        {
            Checks.StringMatch(match, path, ctx);
        }
    }

    private static void Fault(HttpFaultInjection fault, string path, ValidationContext ctx)
    {
        if (fault.Delay is null && fault.Abort is null)
        {
            ctx.Error(path, "a fault needs a delay or an abort");
        }

        if (fault.Delay is { } delay)
        {
            if (delay.FixedDelay is null)
            {
                ctx.Error($"{path}.delay.fixedDelay", "a delay needs fixedDelay");
            }

            Checks.Duration(delay.FixedDelay, $"{path}.delay.fixedDelay", ctx);
            Checks.Percentage(delay.Percentage?.Value, $"{path}.delay.percentage.value", ctx);
            Checks.Percentage(delay.Percent, $"{path}.delay.percent", ctx);
        }

        if (fault.Abort is { } abort)
        {
            var kinds = (abort.HttpStatus is null ? 0 : 1) + (abort.GrpcStatus is null ? 0 : 1) + (abort.Http2Error is null ? 0 : 1);
            if (kinds != 1)
            {
                ctx.Error($"{path}.abort", "exactly one of httpStatus, grpcStatus or http2Error must be set");
            }

            if (abort.HttpStatus is { } status && status is < 200 or > 599)
            {
                ctx.Error($"{path}.abort.httpStatus", $"{status} is not an HTTP status (200..599)");
            }

            if (abort.GrpcStatus is { } grpc && !GrpcStatuses.Codes.ContainsKey(grpc))
            {
                ctx.Error($"{path}.abort.grpcStatus", $"\"{grpc}\" is not a gRPC status name (e.g. UNAVAILABLE, DEADLINE_EXCEEDED)");
            }

            Checks.Percentage(abort.Percentage?.Value, $"{path}.abort.percentage.value", ctx);
        }
    }

    private static void L4Routes(IReadOnlyList<RouteDestination> routes, string path, ValidationContext ctx)
    {
        if (routes.Count == 0)
        {
            ctx.Error(path, "at least one destination is required");
        }

        Checks.Weights(routes.Select(r => r.Weight).ToList(), path, "weight", ctx);
        for (var i = 0; i < routes.Count; i++)
        {
            Destination(routes[i].Destination, $"{path}[{i}].destination", ctx);
        }
    }

    private static void Destination(Destination destination, string path, ValidationContext ctx)
    {
        Checks.Host(destination.Host, $"{path}.host", ctx, allowWildcard: false);
        Checks.Port(destination.Port?.Number, $"{path}.port.number", ctx);
        if (destination.Subset is { Length: 0 })
        {
            ctx.Error($"{path}.subset", "subset must not be empty");
        }
    }

    private static void GatewayReference(string gateway, string path, ValidationContext ctx)
    {
        var parts = gateway.Split('/');
        if (parts.Length > 2 || parts.Any(p => !Names.IsDns1123Subdomain(p)))
        {
            ctx.Error(path, $"\"{gateway}\" is not a gateway reference ([namespace/]name or mesh)");
        }
    }
}
