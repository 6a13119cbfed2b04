using System.Collections.Concurrent;
using System.Text;

namespace Trellis.Proxy.Pipeline;

/// <summary>
/// Why the proxy answered or changed a response itself, with Envoy's response flag names so that operators and
/// the access log read them as they read Envoy's (<c>%RESPONSE_FLAGS%</c>). Every answer the proxy makes carries
/// them in <see cref="Header"/>; so does a relayed response that a flag applies to (a delay, exhausted retries).
/// </summary>
[Flags]
internal enum ResponseFlags
{
    None = 0,

    /// <summary>UH: the picked cluster had no healthy endpoint.</summary>
    NoHealthyUpstream = 1 << 0,

    /// <summary>UF: the connection to the upstream failed.</summary>
    UpstreamConnectionFailure = 1 << 1,

    /// <summary>UO: a circuit breaker (connection pool limit) or a queue was full.</summary>
    UpstreamOverflow = 1 << 2,

    /// <summary>URX: retries were exhausted (or refused by the budget); the last attempt's outcome is what the client got.</summary>
    UpstreamRetryLimitExceeded = 1 << 3,

    /// <summary>UT: the route's timeout or a try's timeout elapsed.</summary>
    UpstreamRequestTimeout = 1 << 4,

    /// <summary>NR: no route matched.</summary>
    NoRouteFound = 1 << 5,

    /// <summary>DI: the request was delayed by fault injection.</summary>
    DelayInjected = 1 << 6,

    /// <summary>FI: the request was aborted by fault injection.</summary>
    FaultInjected = 1 << 7,

    /// <summary>RL: the local rate limit refused the request.</summary>
    RateLimited = 1 << 8,

    /// <summary>UC: the upstream connection ended before the response head (a reset or a close).</summary>
    UpstreamConnectionTermination = 1 << 9,

    /// <summary>DC: the client went away.</summary>
    DownstreamConnectionTermination = 1 << 10,

    /// <summary>DPE: the client's request could not be read (a broken body).</summary>
    DownstreamProtocolError = 1 << 11,

    /// <summary>UAEX / RBAC: refused by authorization (the security work adds it; the stage exists).</summary>
    UnauthorizedDenied = 1 << 12,

    /// <summary>
    /// NRY (Trellis's own; Envoy has none): a retry condition matched but the request was not sent again, because it
    /// may have reached the upstream and is not idempotent (POST/PATCH without a written <c>retryOn</c>), or its body
    /// was larger than the replay bound and streamed. The outcome shown is the first attempt's.
    /// </summary>
    NotReplayable = 1 << 13,

    /// <summary>UAEX: refused by an external authorizer (a CUSTOM AuthorizationPolicy's), or the authorizer failed.</summary>
    UnauthorizedExternalService = 1 << 14,
}

internal static class ResponseFlagNames
{
    /// <summary>The response header that carries the flags of an answer the proxy made or changed.</summary>
    public const string Header = "x-trellis-response-flags";

    public static ReadOnlySpan<byte> HeaderUtf8 => "x-trellis-response-flags"u8;

    // Envoy's order of the short names in %RESPONSE_FLAGS%.
    private static readonly (ResponseFlags Flag, string Name)[] Names =
    [
        (ResponseFlags.NoHealthyUpstream, "UH"),
        (ResponseFlags.UpstreamConnectionFailure, "UF"),
        (ResponseFlags.UpstreamOverflow, "UO"),
        (ResponseFlags.NoRouteFound, "NR"),
        (ResponseFlags.UpstreamRetryLimitExceeded, "URX"),
        (ResponseFlags.UpstreamRequestTimeout, "UT"),
        (ResponseFlags.UpstreamConnectionTermination, "UC"),
        (ResponseFlags.DownstreamConnectionTermination, "DC"),
        (ResponseFlags.DelayInjected, "DI"),
        (ResponseFlags.FaultInjected, "FI"),
        (ResponseFlags.RateLimited, "RL"),
        (ResponseFlags.UnauthorizedExternalService, "UAEX"),
        (ResponseFlags.UnauthorizedDenied, "RBAC"),
        (ResponseFlags.DownstreamProtocolError, "DPE"),
        (ResponseFlags.NotReplayable, "NRY"),
    ];

    // A handful of combinations ever occur; each is formatted once.
    private static readonly ConcurrentDictionary<ResponseFlags, (string Text, byte[] Utf8)> Cache = new();

    /// <summary>Envoy's form: short names joined with commas (<c>UF,URX</c>), <c>-</c> for none.</summary>
    public static string ToShortString(this ResponseFlags flags) => Format(flags).Text;

    public static byte[] ToUtf8(this ResponseFlags flags) => Format(flags).Utf8;

    private static (string Text, byte[] Utf8) Format(ResponseFlags flags) => Cache.GetOrAdd(flags, static f =>
    {
        var names = Names.Where(n => (f & n.Flag) != 0).Select(n => n.Name).ToList();
        var text = names.Count == 0 ? "-" : string.Join(',', names);
        return (text, Encoding.ASCII.GetBytes(text));
    });
}
