namespace Trellis.Proxy.Resilience;

/// <summary>What <see cref="RetryPolicy.Decide"/> says about an attempt's outcome.</summary>
internal enum RetryDecision : byte
{
    /// <summary>The outcome is the answer: a success, or a failure no configured condition names.</summary>
    Done,

    /// <summary>Try again: take a retry slot from the cluster's circuit breaker (its overflow keeps this outcome as the
    /// answer, flagged <c>UO</c>), wait <see cref="RetryBackoff.Delay"/>, then pick an endpoint and send once more.</summary>
    Retry,

    /// <summary>A condition matched but the attempts are used up: this outcome is the answer, flagged <c>URX</c>.</summary>
    LimitReached,

    /// <summary>A condition matched but the request may not be sent again: it may have reached the upstream and is not
    /// idempotent (and the conditions were not written explicitly), or its body was streamed and not kept. This
    /// outcome is the answer; the response flag says why it was not retried.</summary>
    NotReplayable,
}
