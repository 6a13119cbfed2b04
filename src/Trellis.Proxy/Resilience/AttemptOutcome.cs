using System.Numerics;

namespace Trellis.Proxy.Resilience;

/// <summary>How one upstream attempt ended when no response head arrived (Envoy's stream reset reasons, as its router classifies them).</summary>
internal enum AttemptFailure : byte
{
    /// <summary>A response head arrived; see <see cref="AttemptOutcome.Status"/>.</summary>
    None,

    /// <summary>No connection: refused, unreachable or the connect timeout (Envoy's <c>LocalConnectionFailure</c>,
    /// <c>RemoteConnectionFailure</c>, <c>ConnectionTimeout</c>). Nothing of the request was sent.</summary>
    ConnectFailure,

    /// <summary>The connection broke (reset, closed) before any byte of the request was written to it.</summary>
    ResetBeforeRequest,

    /// <summary>The connection or stream broke after request bytes were written and before a response head
    /// (a reset, a close, a malformed answer): the upstream may have processed the request.</summary>
    Reset,

    /// <summary>HTTP/2 <c>REFUSED_STREAM</c> (or a GOAWAY above the stream): RFC 9113 §8.7 guarantees the upstream did not process it.</summary>
    RefusedStream,

    /// <summary>The route's <c>perTryTimeout</c> ran out before a response head (Envoy resets the stream: a local reset
    /// after the request was sent).</summary>
    PerTryTimeout,
}

/// <summary>
/// Response fields the retry decision looks at beyond the status: Envoy's <c>retriable-headers</c> condition asks
/// whether a named field is present, and an answer carrying <c>x-envoy-ratelimited</c> is never retried.
/// Implemented by whatever holds the response head (the fast path's parsed head, an adapter over
/// <c>HttpResponseMessage</c>), so that asking allocates nothing.
/// </summary>
internal interface IResponseHeaderLookup
{
    /// <summary>Whether the response head has a field of this name (ASCII case-insensitive).</summary>
    bool Contains(ReadOnlySpan<char> name);
}

/// <summary>
/// The outcome of one attempt, as the retry policy and outlier detection need it: a response (status, the gRPC
/// status of a trailers-only answer, its header fields) or a local failure. A value type: the pipeline keeps it
/// in the exchange without allocating.
/// </summary>
internal readonly struct AttemptOutcome
{
    private AttemptOutcome(AttemptFailure failure, int status, int grpcStatus, IResponseHeaderLookup? headers)
    {
        Failure = failure;
        Status = status;
        GrpcStatus = grpcStatus;
        Headers = headers;
    }

    public AttemptFailure Failure { get; }

    /// <summary>The response status; 0 for a local failure.</summary>
    public int Status { get; }

    /// <summary>The <c>grpc-status</c> of the response head (a trailers-only gRPC answer), -1 when absent or not a number
    /// (see <see cref="ParseGrpcStatus{T}(ReadOnlySpan{T})"/>). Envoy's gRPC retry conditions read only the head, never trailers.</summary>
    public int GrpcStatus { get; }

    /// <summary>The response's fields; null for a local failure, or when the caller has none to offer (then
    /// <c>retriable-headers</c> never matches).</summary>
    public IResponseHeaderLookup? Headers { get; }

    public bool IsResponse => Failure == AttemptFailure.None;

    /// <summary>
    /// Whether the upstream may have processed the request in this attempt: always for a response, a reset after
    /// sending and a per-try timeout; never for a connect failure, a reset before sending or a refused stream.
    /// The pipeline ORs this over the attempts of an exchange and passes it to <see cref="RetryPolicy.Decide"/>.
    /// </summary>
    public bool MayHaveReachedUpstream => Failure is AttemptFailure.None or AttemptFailure.Reset or AttemptFailure.PerTryTimeout;

    public static AttemptOutcome Response(int status, int grpcStatus = -1, IResponseHeaderLookup? headers = null) =>
        new(AttemptFailure.None, status, grpcStatus, headers);

    public static AttemptOutcome Failed(AttemptFailure failure) =>
        failure == AttemptFailure.None
            ? throw new ArgumentOutOfRangeException(nameof(failure), "a failure needs a reason; use Response for an answer")
            : new(failure, 0, -1, null);

    /// <summary>
    /// A <c>grpc-status</c> value (bytes of a parsed head, or chars) as Envoy's <c>Grpc::Common::getGrpcStatus</c>
    /// reads it: decimal digits with optional spaces around, else -1 (Envoy's <c>InvalidCode</c>, which no retry
    /// condition names).
    /// </summary>
    public static int ParseGrpcStatus<T>(ReadOnlySpan<T> value)
        where T : unmanaged, IBinaryInteger<T>
    {
        var space = T.CreateTruncating(' ');
        while (!value.IsEmpty && value[0] == space)
        {
            value = value[1..];
        }

        while (!value.IsEmpty && value[^1] == space)
        {
            value = value[..^1];
        }

        if (value.IsEmpty || value.Length > 9)
        {
            return -1;
        }

        var result = 0;
        foreach (var unit in value)
        {
            var digit = int.CreateTruncating(unit) - '0';
            if (digit is < 0 or > 9)
            {
                return -1;
            }

            result = (result * 10) + digit;
        }

        return result;
    }
}
