using System.Globalization;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Resilience;

/// <summary>What the CORS stage does with a request (<see cref="CorsPolicy.Evaluate"/>).</summary>
internal enum CorsDecision : byte
{
    /// <summary>No <c>Origin</c>: CORS does not apply; forward as usual.</summary>
    NotCors,

    /// <summary>An allowed origin's preflight: the proxy answers 200 with <see cref="CorsPolicy.PreflightHeaders"/> and
    /// no body; nothing goes upstream.</summary>
    Preflight,

    /// <summary>An allowed origin's request: forward it, and add <see cref="CorsPolicy.ResponseHeaders"/> to the answer.</summary>
    Allowed,

    /// <summary>An origin that is not allowed: forward the request (a preflight too, with Istio's
    /// <c>unmatchedPreflights: FORWARD</c>) and add no CORS fields.</summary>
    NotAllowed,

    /// <summary>A preflight from an origin that is not allowed, with <c>unmatchedPreflights: IGNORE</c>: the proxy answers
    /// 200 with <see cref="CorsPolicy.PreflightHeaders"/> for no origin (so without <c>Access-Control-Allow-Origin</c>,
    /// and the browser refuses the request) and sends nothing upstream.</summary>
    PreflightIgnored,
}

/// <summary>
/// A route's CORS policy compiled from <see cref="CorsConfig"/> (Istio <c>CorsPolicy</c>), with the semantics of
/// Envoy's CORS filter (<c>source/extensions/filters/http/cors/cors_filter.cc</c>, as Istio configures it): a request
/// with a non-empty <c>Origin</c> is a CORS request; its origin is allowed when a matcher of <c>allowOrigins</c>
/// accepts it (or accepts <c>*</c>, as an exact <c>*</c> does); a preflight is an <c>OPTIONS</c> request with an
/// <c>Origin</c> and a non-empty <c>Access-Control-Request-Method</c>. An allowed preflight is answered by the proxy
/// with <c>Access-Control-Allow-Origin</c> (the request's origin, never <c>*</c>), <c>-Allow-Credentials: true</c>
/// when set, and <c>-Allow-Methods</c>, <c>-Allow-Headers</c> (the lists joined with <c>,</c>, as Istio joins them; a
/// list of just <c>*</c> answers with what the preflight asked for), <c>-Expose-Headers</c> (the Gateway API suite's
/// HTTPRouteCORS expects it on the preflight too) and <c>-Max-Age</c> (whole seconds) when configured; an ignored unmatched preflight gets the same answer without <c>-Allow-Origin</c>. Other requests from
/// an allowed origin get <c>-Allow-Origin</c>, <c>-Allow-Credentials</c> and <c>-Expose-Headers</c> on their answer.
/// Immutable; evaluation allocates nothing.
/// </summary>
internal sealed class CorsPolicy
{
    public const string AllowOriginField = "access-control-allow-origin";
    public const string AllowCredentialsField = "access-control-allow-credentials";
    public const string AllowMethodsField = "access-control-allow-methods";
    public const string AllowHeadersField = "access-control-allow-headers";
    public const string MaxAgeField = "access-control-max-age";
    public const string ExposeHeadersField = "access-control-expose-headers";

    /// <summary>The request field that makes an <c>OPTIONS</c> request a preflight.</summary>
    public const string RequestMethodField = "access-control-request-method";

    /// <summary>The preflight's field echoed by an <c>allowHeaders</c> of <c>*</c>.</summary>
    public const string RequestHeadersField = "access-control-request-headers";

    private readonly StringMatcher[] _origins;
    private readonly bool _anyOrigin;
    private readonly bool _forwardUnmatchedPreflights;

    public CorsPolicy(CorsConfig config, TimeSpan regexTimeout)
    {
        ArgumentNullException.ThrowIfNull(config);
        // Origins compare as written (Envoy's matchers are case-sensitive unless ignore_case, which Istio never sets).
        _origins = (config.AllowOrigins ?? []).Select(o => StringMatcher.Create(o, ignoreCase: false, regexTimeout)).ToArray();
        _anyOrigin = _origins.Any(o => o.IsMatch("*"));
        _forwardUnmatchedPreflights = config.ForwardUnmatchedPreflights;
        AllowCredentials = config.AllowCredentials == true;
        AllowMethods = Join(config.AllowMethods);
        AllowHeaders = Join(config.AllowHeaders);
        ExposeHeaders = Join(config.ExposeHeaders);
        MaxAge = config.MaxAge is { } age ? ((long)age.TotalSeconds).ToString(CultureInfo.InvariantCulture) : null;
    }

    public bool AllowCredentials { get; }

    /// <summary><c>Access-Control-Allow-Methods</c>; null when none are configured (the field is then not sent).</summary>
    public string? AllowMethods { get; }

    public string? AllowHeaders { get; }

    public string? ExposeHeaders { get; }

    /// <summary><c>Access-Control-Max-Age</c> in whole seconds; null when not configured.</summary>
    public string? MaxAge { get; }

    /// <param name="method">The request method.</param>
    /// <param name="origin">The <c>Origin</c> field; empty when absent.</param>
    /// <param name="requestMethod">The <c>Access-Control-Request-Method</c> field; empty when absent.</param>
    public CorsDecision Evaluate(ReadOnlySpan<char> method, ReadOnlySpan<char> origin, ReadOnlySpan<char> requestMethod)
    {
        if (origin.IsEmpty)
        {
            return CorsDecision.NotCors;
        }

        var preflight = method.SequenceEqual("OPTIONS") && !requestMethod.IsEmpty;
        if (!IsOriginAllowed(origin))
        {
            return preflight && !_forwardUnmatchedPreflights ? CorsDecision.PreflightIgnored : CorsDecision.NotAllowed;
        }

        return preflight ? CorsDecision.Preflight : CorsDecision.Allowed;
    }

    public bool IsOriginAllowed(ReadOnlySpan<char> origin)
    {
        if (_anyOrigin)
        {
            return true;
        }

        foreach (var matcher in _origins)
        {
            if (matcher.IsMatch(origin))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The fields of the proxy's answer to a preflight, in Envoy's order (empty values left out).</summary>
    /// <param name="origin">The request's origin when allowed (<see cref="CorsDecision.Preflight"/>); null for an ignored
    /// unmatched preflight (<see cref="CorsDecision.PreflightIgnored"/>).</param>
    /// <param name="requestMethod">The preflight's <c>Access-Control-Request-Method</c>, echoed for <c>allowMethods: ["*"]</c>.</param>
    /// <param name="requestHeaders">Its <c>Access-Control-Request-Headers</c>, echoed for <c>allowHeaders: ["*"]</c>.</param>
    public CorsFields PreflightHeaders(string? origin, string requestMethod, string requestHeaders) =>
        new(this, origin, preflight: true, requestMethod, requestHeaders);

    /// <summary>The fields added to the upstream's answer for an allowed origin (<see cref="CorsDecision.Allowed"/>).</summary>
    public CorsFields ResponseHeaders(string origin) => new(this, origin, preflight: false, string.Empty, string.Empty);

    private static string? Join(IReadOnlyList<string>? values) => values is { Count: > 0 } ? string.Join(',', values) : null;

    /// <summary>Name and value pairs for <c>foreach</c>, without allocating.</summary>
    internal readonly struct CorsFields(CorsPolicy policy, string? origin, bool preflight, string requestMethod, string requestHeaders)
    {
        public Enumerator GetEnumerator() => new(policy, origin, preflight, requestMethod, requestHeaders);

        public struct Enumerator(CorsPolicy policy, string? origin, bool preflight, string requestMethod, string requestHeaders)
        {
            private int _step = -1;

            public (string Name, string Value) Current { get; private set; }

            public bool MoveNext()
            {
                while (++_step < 6)
                {
                    var field = (_step, preflight) switch
                    {
                        (0, _) => (AllowOriginField, origin),
                        (1, _) => (AllowCredentialsField, policy.AllowCredentials ? "true" : null),
                        (2, true) => (AllowMethodsField, policy.AllowMethods == "*" ? requestMethod : policy.AllowMethods),
                        (3, true) => (AllowHeadersField, policy.AllowHeaders == "*" ? requestHeaders : policy.AllowHeaders),
                        (4, _) => (ExposeHeadersField, policy.ExposeHeaders),
                        (5, true) => (MaxAgeField, policy.MaxAge),
                        _ => (string.Empty, (string?)null),
                    };
                    if (!string.IsNullOrEmpty(field.Item2))
                    {
                        Current = (field.Item1, field.Item2);
                        return true;
                    }
                }

                return false;
            }
        }
    }
}
