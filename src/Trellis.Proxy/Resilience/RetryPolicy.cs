using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Resilience;

/// <summary>
/// A route's retry policy compiled from <see cref="RetryConfig"/>: decides, from one attempt's outcome, whether to
/// try again. Condition semantics are Envoy's (router filter, <c>x-envoy-retry-on</c>; the code is
/// <c>RetryStateImpl::wouldRetryFromHeaders</c> and <c>wouldRetryFromReset</c>):
/// <list type="bullet">
/// <item><c>5xx</c>: any 5xx answer, and every local failure (connect failure, reset, refused stream, per-try timeout).</item>
/// <item><c>gateway-error</c>: 502, 503, 504, and every local failure.</item>
/// <item><c>reset</c>: every local failure (no response head at all).</item>
/// <item><c>connect-failure</c>: no connection could be made.</item>
/// <item><c>refused-stream</c>: HTTP/2 <c>REFUSED_STREAM</c>.</item>
/// <item><c>retriable-4xx</c>: 409 only.</item>
/// <item><c>retriable-status-codes</c>: the statuses in <see cref="RetryConfig.RetriableStatusCodes"/> (which imply
/// the condition, as Istio adds it whenever <c>retryOn</c> holds numbers).</item>
/// <item><c>retriable-headers</c>: the answer has a field named in the request's <c>x-envoy-retriable-header-names</c>
/// (comma-separated; Istio configures no names of its own).</item>
/// <item><c>cancelled</c>, <c>deadline-exceeded</c>, <c>internal</c>, <c>resource-exhausted</c>, <c>unavailable</c>:
/// the gRPC status 1, 4, 13, 8, 14 in the answer's head (a trailers-only answer), whatever the HTTP status.</item>
/// </list>
/// An answer carrying <c>x-envoy-ratelimited</c> (an upstream Envoy's rate limit) is never retried, as in Envoy.
/// On top, issue 10's idempotency rule (Envoy has none, istio/istio#50506): when the conditions are Istio's
/// default (<see cref="RetryConfig.RetryOnExplicit"/> false), a request that is not idempotent (RFC 9110 §9.2.2:
/// anything but GET, HEAD, OPTIONS, TRACE, PUT, DELETE) is retried only while no attempt reached the upstream; and a
/// body that was streamed without being kept can never be sent again once any attempt sent it.
/// Immutable and allocation-free; one instance per route, shared by every request on it.
/// </summary>
internal sealed class RetryPolicy
{
    /// <summary>The request field naming response fields that make an answer retriable (Envoy's <c>retriable-headers</c>).</summary>
    public const string RetriableHeaderNamesField = "x-envoy-retriable-header-names";

    private const string RateLimitedField = "x-envoy-ratelimited";

    private readonly Conditions _conditions;
    private readonly int[] _retriableStatusCodes;

    public RetryPolicy(RetryConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        MaxRetries = Math.Max(0, config.Attempts);
        PerTryTimeout = config.PerTryTimeout is { } t && t > TimeSpan.Zero ? t : null;
        RetryOnExplicit = config.RetryOnExplicit;
        IgnorePreviousHosts = config.IgnorePreviousHosts;
        _retriableStatusCodes = config.RetriableStatusCodes?.ToArray() ?? [];
        foreach (var name in config.RetryOn ?? [])
        {
            _conditions |= Parse(name);
        }

        // Istio writes statuses as numbers in retryOn and adds retriable-status-codes itself when there are any;
        // codes without the condition would be dead in Envoy, so they imply it here.
        if (_retriableStatusCodes.Length > 0)
        {
            _conditions |= Conditions.RetriableStatusCodes;
        }
    }

    [Flags]
    private enum Conditions
    {
        None = 0,
        FiveXx = 1 << 0,
        GatewayError = 1 << 1,
        Reset = 1 << 2,
        ConnectFailure = 1 << 3,
        RefusedStream = 1 << 4,
        Retriable4xx = 1 << 5,
        RetriableStatusCodes = 1 << 6,
        RetriableHeaders = 1 << 7,
        GrpcCancelled = 1 << 8,
        GrpcDeadlineExceeded = 1 << 9,
        GrpcInternal = 1 << 10,
        GrpcResourceExhausted = 1 << 11,
        GrpcUnavailable = 1 << 12,
        AnyGrpc = GrpcCancelled | GrpcDeadlineExceeded | GrpcInternal | GrpcResourceExhausted | GrpcUnavailable,
        AnyReset = FiveXx | GatewayError | Reset,
    }

    /// <summary>Retries after the first attempt (Istio's <c>attempts</c>, Envoy's <c>num_retries</c>); 0 never retries.</summary>
    public int MaxRetries { get; }

    /// <summary>Each attempt's own limit (<see cref="AttemptFailure.PerTryTimeout"/> when it runs out); null: only the route timeout.</summary>
    public TimeSpan? PerTryTimeout { get; }

    /// <summary>Whether the user named the conditions (see the class remarks on idempotency).</summary>
    public bool RetryOnExplicit { get; }

    /// <summary>Whether a retry avoids the endpoint that just failed (<see cref="RetryConfig.IgnorePreviousHosts"/>).</summary>
    public bool IgnorePreviousHosts { get; }

    /// <summary>Whether a condition reads the answer's <c>grpc-status</c> (the pipeline then parses it from the head).</summary>
    public bool UsesGrpcStatus => (_conditions & Conditions.AnyGrpc) != 0;

    /// <summary>Whether <c>retriable-headers</c> is on (the pipeline then reads the request's <see cref="RetriableHeaderNamesField"/>).</summary>
    public bool UsesRetriableHeaders => (_conditions & Conditions.RetriableHeaders) != 0;

    /// <summary>
    /// Whether a request of <paramref name="method"/> could be retried after the upstream saw it, so that its body is
    /// worth keeping for a second attempt: some condition beyond connect-failure and refused-stream, and the method is
    /// idempotent or the conditions were written explicitly.
    /// </summary>
    public bool MayRetryAfterSending(string method) =>
        MaxRetries > 0
        && (_conditions & ~(Conditions.ConnectFailure | Conditions.RefusedStream)) != 0
        && (RetryOnExplicit || IsIdempotent(method));

    /// <summary>
    /// Decides on the outcome of the attempt just made.
    /// </summary>
    /// <param name="outcome">How the attempt ended.</param>
    /// <param name="method">The request method (upper case, as on the wire).</param>
    /// <param name="bodyReplayable">True when the request has no body or the whole body is kept for sending again.</param>
    /// <param name="retriesSoFar">Retries already made for this request (0 after the first attempt).</param>
    /// <param name="reachedUpstream">Whether any attempt so far, this one included, may have been processed by an
    /// upstream: the OR of <see cref="AttemptOutcome.MayHaveReachedUpstream"/> over the attempts.</param>
    /// <param name="retriableHeaderNames">The request's <c>x-envoy-retriable-header-names</c> value; empty when absent.</param>
    public RetryDecision Decide(
        in AttemptOutcome outcome,
        string method,
        bool bodyReplayable,
        int retriesSoFar,
        bool reachedUpstream,
        ReadOnlySpan<char> retriableHeaderNames = default)
    {
        if (!Matches(outcome, retriableHeaderNames))
        {
            return RetryDecision.Done;
        }

        // A body that streamed past the replay bound is gone once any attempt sent it, whatever the policy says.
        if (reachedUpstream && !bodyReplayable)
        {
            return RetryDecision.NotReplayable;
        }

        if (reachedUpstream && !RetryOnExplicit && !IsIdempotent(method))
        {
            return RetryDecision.NotReplayable;
        }

        return retriesSoFar >= MaxRetries ? RetryDecision.LimitReached : RetryDecision.Retry;
    }

    /// <summary>Whether the outcome meets a configured condition (Envoy's semantics, see the class remarks).</summary>
    public bool Matches(in AttemptOutcome outcome, ReadOnlySpan<char> retriableHeaderNames = default)
    {
        var conditions = _conditions;
        if (!outcome.IsResponse)
        {
            // wouldRetryFromReset: connect-failure for connection failures, refused-stream for REFUSED_STREAM,
            // and 5xx, gateway-error and reset for any reset at all.
            return (conditions & Conditions.AnyReset) != 0
                || (outcome.Failure == AttemptFailure.ConnectFailure && (conditions & Conditions.ConnectFailure) != 0)
                || (outcome.Failure == AttemptFailure.RefusedStream && (conditions & Conditions.RefusedStream) != 0);
        }

        var status = outcome.Status;
        var matched = ((conditions & Conditions.FiveXx) != 0 && status is >= 500 and <= 599)
            || ((conditions & Conditions.GatewayError) != 0 && status is 502 or 503 or 504)
            || ((conditions & Conditions.Retriable4xx) != 0 && status == 409)
            || ((conditions & Conditions.RetriableStatusCodes) != 0 && Array.IndexOf(_retriableStatusCodes, status) >= 0)
            || ((conditions & Conditions.AnyGrpc) != 0 && MatchesGrpc(conditions, outcome.GrpcStatus))
            || ((conditions & Conditions.RetriableHeaders) != 0 && outcome.Headers is { } fields && HasAnyField(fields, retriableHeaderNames));

        // Looked up only once something matched: a successful answer pays no field lookup.
        return matched && !(outcome.Headers is { } headers && headers.Contains(RateLimitedField));
    }

    /// <summary>RFC 9110 §9.2.2: the methods whose repetition has the effect of one request.</summary>
    public static bool IsIdempotent(string method) => method switch
    {
        "GET" or "HEAD" or "OPTIONS" or "TRACE" or "PUT" or "DELETE" => true,
        _ => false,
    };

    private static bool MatchesGrpc(Conditions conditions, int grpcStatus) => grpcStatus switch
    {
        1 => (conditions & Conditions.GrpcCancelled) != 0,
        4 => (conditions & Conditions.GrpcDeadlineExceeded) != 0,
        8 => (conditions & Conditions.GrpcResourceExhausted) != 0,
        13 => (conditions & Conditions.GrpcInternal) != 0,
        14 => (conditions & Conditions.GrpcUnavailable) != 0,
        _ => false,
    };

    private static bool HasAnyField(IResponseHeaderLookup fields, ReadOnlySpan<char> names)
    {
        foreach (var range in names.Split(','))
        {
            var name = names[range].Trim(" \t");
            if (!name.IsEmpty && fields.Contains(name))
            {
                return true;
            }
        }

        return false;
    }

    private static Conditions Parse(string name) => name switch
    {
        RetryConditions.FiveXx => Conditions.FiveXx,
        RetryConditions.GatewayError => Conditions.GatewayError,
        RetryConditions.Reset => Conditions.Reset,
        RetryConditions.ConnectFailure => Conditions.ConnectFailure,
        RetryConditions.RefusedStream => Conditions.RefusedStream,
        RetryConditions.Retriable4xx => Conditions.Retriable4xx,
        RetryConditions.RetriableStatusCodes => Conditions.RetriableStatusCodes,
        RetryConditions.RetriableHeaders => Conditions.RetriableHeaders,
        RetryConditions.Cancelled => Conditions.GrpcCancelled,
        RetryConditions.DeadlineExceeded => Conditions.GrpcDeadlineExceeded,
        RetryConditions.Internal => Conditions.GrpcInternal,
        RetryConditions.ResourceExhausted => Conditions.GrpcResourceExhausted,
        RetryConditions.Unavailable => Conditions.GrpcUnavailable,
        // The snapshot validator refuses other names; a snapshot written by hand with one gets no condition from it.
        _ => Conditions.None,
    };
}
