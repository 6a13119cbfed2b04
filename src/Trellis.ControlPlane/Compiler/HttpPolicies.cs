using System.Text;
using Trellis.Api;
using Trellis.Api.Networking;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// The per-route policies of a VirtualService <c>http</c> rule, as pilot translates them for Envoy
/// (pilot/pkg/networking/core/route: <c>retry.ConvertPolicy</c>, <c>TranslateFault</c>, <c>MirrorPercent</c>,
/// <c>TranslateCORSPolicy</c>, <c>ApplyDirectResponse</c>). Defaults are resolved here and written out, so the
/// snapshot says exactly what the proxy does.
/// </summary>
internal static class HttpPolicies
{
    /// <summary>Istio's policy for a route without <c>retries</c> (pilot's <c>DefaultPolicy</c>).</summary>
    public static readonly RetryConfig DefaultRetry = new(
        Attempts: 2,
        RetryOn: [RetryConditions.ConnectFailure, RetryConditions.RefusedStream, RetryConditions.Unavailable, RetryConditions.Cancelled, RetryConditions.RetriableStatusCodes],
        RetriableStatusCodes: [503],
        RetryOnExplicit: false);

    /// <summary>
    /// No <c>retries</c>: Istio's default. <c>attempts</c> 0 (or absent): no retries. Otherwise the default with the
    /// user's fields over it; numbers in <c>retryOn</c> are retriable statuses and bring <c>retriable-status-codes</c>
    /// with them. Conditions Trellis does not implement (<c>envoy-ratelimited</c>, <c>reset-before-request</c>,
    /// <c>http3-post-connect-failure</c>) are left out; NotEnforced reports them.
    /// </summary>
    public static RetryConfig? Retry(HttpRetry? retries)
    {
        if (retries is null)
        {
            return DefaultRetry;
        }

        if (retries.Attempts is not > 0)
        {
            return null;
        }

        var retry = DefaultRetry with { Attempts = retries.Attempts.Value };
        if (!string.IsNullOrWhiteSpace(retries.RetryOn))
        {
            var (conditions, codes) = RetryOn.Parse(retries.RetryOn);
            if (codes.Count > 0 && !conditions.Contains(RetryConditions.RetriableStatusCodes))
            {
                conditions.Add(RetryConditions.RetriableStatusCodes);
            }

            retry = retry with
            {
                RetryOn = conditions.Where(RetryConditions.All.Contains).Distinct(StringComparer.Ordinal).ToList(),
                RetriableStatusCodes = codes.Distinct().ToList(),
                RetryOnExplicit = true,
            };
        }

        return retry with
        {
            PerTryTimeout = Positive(retries.PerTryTimeout),
            BackoffBase = Positive(retries.Backoff),
            RetryRemoteLocalities = retries.RetryRemoteLocalities ?? false,
            IgnorePreviousHosts = retries.RetryIgnorePreviousHosts ?? true,
        };
    }

    /// <summary>
    /// Istio's fault: a delay or abort without a percentage applies to no request (Envoy's unset fractional percent
    /// is 0); the deprecated integer <c>percent</c> counts only when <c>percentage</c> is absent. An abort by
    /// <c>http2Error</c> is not translated by Istio either.
    /// </summary>
    public static FaultConfig? Fault(HttpFaultInjection? fault)
    {
        if (fault is null)
        {
            return null;
        }

        FaultDelayConfig? delay = null;
        if (fault.Delay is { FixedDelay: { } fixedDelay } d && Durations.TryParse(fixedDelay, out var duration))
        {
            delay = new FaultDelayConfig(duration, d.Percentage?.Value ?? d.Percent ?? 0);
        }

        FaultAbortConfig? abort = null;
        if (fault.Abort is { } a)
        {
            var percentage = a.Percentage?.Value ?? 0;
            if (a.HttpStatus is { } status)
            {
                abort = new FaultAbortConfig(HttpStatus: status, Percentage: percentage);
            }
            else if (a.GrpcStatus is { } name && GrpcStatuses.Codes.TryGetValue(name, out var code))
            {
                abort = new FaultAbortConfig(GrpcStatus: code, Percentage: percentage);
            }
        }

        return delay is null && abort is null ? null : new FaultConfig(delay, abort);
    }

    /// <summary>
    /// <c>mirror</c> with <c>mirrorPercentage</c> (absent: 100 %, 0: no mirror), then each of <c>mirrors</c> with its own
    /// percentage, in that order, as pilot appends them.
    /// </summary>
    public static List<MirrorConfig>? Mirrors(HttpRoute http, Func<Destination, string> cluster)
    {
        var mirrors = new List<MirrorConfig>();
        if (http.Mirror is { } mirror && (http.MirrorPercentage?.Value ?? 100) is var percent and > 0)
        {
            mirrors.Add(new MirrorConfig(cluster(mirror), percent));
        }

        foreach (var policy in http.Mirrors)
        {
            if ((policy.Percentage?.Value ?? 100) is var p and > 0)
            {
                mirrors.Add(new MirrorConfig(cluster(policy.Destination), p));
            }
        }

        return mirrors.Count == 0 ? null : mirrors;
    }

    /// <summary>
    /// Istio's CORS: <c>allowOrigins</c> when written, else the deprecated exact <c>allowOrigin</c>; <c>maxAge</c> in whole
    /// seconds; <c>unmatchedPreflights: IGNORE</c> answers a preflight from an origin not allowed, anything else forwards it.
    /// </summary>
    public static CorsConfig? Cors(CorsPolicy? cors)
    {
        if (cors is null)
        {
            return null;
        }

        var origins = cors.AllowOrigins.Count > 0
            ? cors.AllowOrigins.Select(RouteTranslator.String).Where(m => m is not null).Select(m => m!).ToList()
            : cors.AllowOrigin.Select(o => new StringMatchConfig(StringMatchKind.Exact, o)).ToList();
        TimeSpan? maxAge = cors.MaxAge is not null && Durations.TryParse(cors.MaxAge, out var age) ? TimeSpan.FromSeconds(Math.Floor(age.TotalSeconds)) : null;
        return new CorsConfig(
            origins,
            NullIfEmpty(cors.AllowMethods),
            NullIfEmpty(cors.AllowHeaders),
            NullIfEmpty(cors.ExposeHeaders),
            maxAge,
            cors.AllowCredentials,
            ForwardUnmatchedPreflights: cors.UnmatchedPreflights != "IGNORE");
    }

    public static DirectResponseConfig? DirectResponse(HttpDirectResponse? direct) => direct switch
    {
        null => null,
        { Body.String: { } text } => new DirectResponseConfig(direct.Status, Encoding.UTF8.GetBytes(text)),
        { Body.Bytes: { } bytes } => new DirectResponseConfig(direct.Status, Convert.FromBase64String(bytes)),
        _ => new DirectResponseConfig(direct.Status),
    };

    /// <summary>
    /// <c>derivePort: FROM_REQUEST_PORT</c> is the port the route is built for (pilot does the same: Envoy cannot derive
    /// it); <c>FROM_PROTOCOL_DEFAULT</c> writes no port. As pilot, an explicit 80 for http or 443 for https is left out.
    /// </summary>
    public static RedirectConfig Redirect(HttpRedirect redirect, int? listenPort, bool tls)
    {
        var port = redirect.Port ?? (redirect.DerivePort == RedirectPortSelection.FromRequestPort ? listenPort : null);
        if (port is not null && (redirect.Port is not null || redirect.DerivePort is not null))
        {
            var scheme = redirect.Scheme ?? (tls ? "https" : "http");
            if ((port == 80 && scheme == "http") || (port == 443 && scheme == "https"))
            {
                port = null;
            }
        }

        return new RedirectConfig(redirect.Uri, redirect.Authority, redirect.Scheme, port, redirect.RedirectCode ?? 301);
    }

    private static TimeSpan? Positive(string? duration) =>
        duration is not null && Durations.TryParse(duration, out var value) && value > TimeSpan.Zero ? value : null;

    private static List<string>? NullIfEmpty(IReadOnlyList<string> values) => values.Count == 0 ? null : [.. values];
}
