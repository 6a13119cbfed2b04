using System.Collections.Frozen;
using System.Globalization;

namespace Trellis.Api.Networking;

/// <summary>
/// Istio's <c>retries.retryOn</c>: a comma-separated list of Envoy retry conditions, where a number that is an HTTP
/// status makes that status retriable (pilot's <c>parseRetryOn</c>). One reading, used by the validator and the
/// compiler.
/// </summary>
public static class RetryOn
{
    /// <summary>The conditions Istio's validation accepts (Envoy's <c>x-envoy-retry-on</c> and <c>x-envoy-retry-grpc-on</c>).</summary>
    public static readonly FrozenSet<string> IstioConditions = new[]
    {
        "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "envoy-ratelimited", "retriable-4xx",
        "refused-stream", "retriable-status-codes", "retriable-headers", "http3-post-connect-failure",
        "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
    }.ToFrozenSet(StringComparer.Ordinal);

    // Go's http.StatusText knows these; Istio takes a number as a status only when it is one of them.
    private static readonly FrozenSet<int> KnownStatuses = new[]
    {
        100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308,
        400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423,
        424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
    }.ToFrozenSet();

    /// <summary>The parts of <paramref name="retryOn"/>: condition names in order, and the status codes it names.</summary>
    public static (List<string> Conditions, List<int> StatusCodes) Parse(string retryOn)
    {
        var conditions = new List<string>();
        var codes = new List<int>();
        foreach (var raw in retryOn.Split(','))
        {
            var part = raw.Trim();
            if (part.Length == 0)
            {
                continue;
            }

            if (int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && KnownStatuses.Contains(code))
            {
                codes.Add(code);
            }
            else
            {
                conditions.Add(part);
            }
        }

        return (conditions, codes);
    }

    /// <summary>The parts Istio's validation rejects: neither a known condition nor an HTTP status.</summary>
    public static IEnumerable<string> Invalid(string retryOn) =>
        Parse(retryOn).Conditions.Where(c => !IstioConditions.Contains(c));
}
