using System.Globalization;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.LoadBalancing;
using Trellis.Proxy.Resilience;
using Trellis.Proxy.Routing;

namespace Trellis.Proxy.Pipeline;

/// <summary>The stages of <see cref="RequestPipeline"/> that read a route's policy objects: rate limits, CORS, the affinity key.</summary>
internal sealed partial class RequestPipeline
{
    /// <summary>
    /// The local rate limits: the listener's token bucket (a workload instance, a gateway port), then the route's. A
    /// request with no token left is answered 429 with the bucket's <c>x-ratelimit-*</c> fields and the RL flag.
    /// </summary>
    private LocalReply? RateLimit(string listener, CompiledRoute route)
    {
        var byListener = _snapshots.Current.RateLimitsByListener;
        if (byListener.Count != 0 && byListener.TryGetValue(listener, out var bucket) && Refused(bucket) is { } refusal)
        {
            return refusal;
        }

        return route.RateLimit is { } own ? Refused(own) : null;
    }

    private static LocalReply? Refused(TokenBucket bucket)
    {
        var decision = bucket.TryTake();
        if (decision.Allowed)
        {
            return null;
        }

        return LocalReply.For(ForwardError.RateLimited) with
        {
            Headers =
            [
                new(TokenBucket.LimitField, decision.Limit.ToString(CultureInfo.InvariantCulture)),
                new(TokenBucket.RemainingField, decision.Remaining.ToString(CultureInfo.InvariantCulture)),
                new(TokenBucket.ResetField, decision.ResetSeconds.ToString(CultureInfo.InvariantCulture)),
            ],
        };
    }

    /// <summary>
    /// CORS (Envoy's filter, as Istio configures it): an allowed origin's preflight is answered here; an allowed
    /// origin's request gets the <c>Access-Control-*</c> fields on its answer (<paramref name="added"/>); an unmatched
    /// preflight is forwarded, or answered without them under <c>unmatchedPreflights: IGNORE</c>.
    /// </summary>
    private static LocalReply? Cors(IExchange exchange, CorsPolicy cors, ref KeyValuePair<string, string>[]? added)
    {
        var request = exchange.Request;
        if (!request.TryGetHeader("origin", out var origin) || origin.Length == 0)
        {
            return null;
        }

        request.TryGetHeader(CorsPolicy.RequestMethodField, out var requestMethod);
        switch (cors.Evaluate(request.Method, origin, requestMethod))
        {
            case CorsDecision.Preflight:
            case CorsDecision.PreflightIgnored:
                request.TryGetHeader(CorsPolicy.RequestHeadersField, out var requestHeaders);
                var preflight = cors.Evaluate(request.Method, origin, requestMethod) == CorsDecision.Preflight ? origin : null;
                var fields = new List<KeyValuePair<string, string>>();
                foreach (var (name, value) in cors.PreflightHeaders(preflight, requestMethod, requestHeaders))
                {
                    fields.Add(new(name, value));
                }

                return new LocalReply(200, default, ResponseFlags.None, ForwardError.None, null, [.. fields]);
            case CorsDecision.Allowed:
                var response = new List<KeyValuePair<string, string>>(added ?? []);
                foreach (var (name, value) in cors.ResponseHeaders(origin))
                {
                    response.Add(new(name, value));
                }

                added = [.. response];
                return null;
            default:
                return null;
        }
    }

    /// <summary>
    /// The request's consistent-hash key (Istio <c>consistentHash</c>), hashed; null when the request has none (the
    /// picker then takes a random position, as Envoy does). A cookie key that is absent is issued when the policy has
    /// a TTL, as Envoy does: a new value, whose hash picks the endpoint now and on every later request that carries it.
    /// </summary>
    private ulong? HashOf(IExchange exchange, ConsistentHashConfig config, ref KeyValuePair<string, string>[]? added)
    {
        var request = exchange.Request;
        switch (config.Key)
        {
            case HashKeyKind.Header:
                return request.TryGetHeader(config.Name, out var header) ? HashKey.Hash(header) : null;
            case HashKeyKind.SourceIp:
                return exchange.ClientAddress.Length > 0 ? HashKey.Hash(exchange.ClientAddress) : null;
            case HashKeyKind.QueryParameter:
                return QueryStringReader.TryGetValue(request.Query, config.Name, out var parameter) ? HashKey.Hash(parameter) : null;
            default:
                if (request.TryGetHeader("cookie", out var cookies) && HashKey.TryGetCookie(cookies, config.Name, out var cookie))
                {
                    return HashKey.Hash(cookie);
                }

                if (config.CookieTtl is not { } ttl)
                {
                    return null;
                }

                var value = _options.Random(int.MaxValue).ToString("x8", CultureInfo.InvariantCulture) + _options.Random(int.MaxValue).ToString("x8", CultureInfo.InvariantCulture);
                var setCookie = $"{config.Name}=\"{value}\"; Path={config.CookiePath ?? "/"}"
                    + (ttl > TimeSpan.Zero ? $"; Max-Age={(long)ttl.TotalSeconds}" : string.Empty) + "; HttpOnly";
                added = [.. added ?? [], new("Set-Cookie", setCookie)];
                return HashKey.Hash(value); // as it reads back: TryGetCookie drops the quotes
        }
    }
}
