using System.Xml;
using Trellis.Api.Eventing;

namespace Trellis.Eventing.Delivery;

/// <summary>
/// How one Trigger's events are delivered (Knative's <c>DeliverySpec</c>, resolved): the Trigger's
/// <c>delivery</c> wins field by field over the Broker's. Knative semantics: <c>retry</c> more attempts
/// after the first; the n-th retry waits <c>backoffDelay × n</c> (linear) or <c>backoffDelay × 2^n</c>
/// (exponential, the default); <c>timeout</c> bounds each attempt.
/// </summary>
public sealed record DeliveryPolicy
{
    /// <summary>Knative's dispatcher gives an attempt no deadline of its own unless <c>timeout</c> is set; Trellis bounds it so a hung subscriber cannot hold an event forever.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    public int Retry { get; init; }

    public bool Linear { get; init; }

    public TimeSpan BackoffDelay { get; init; }

    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    public TimeSpan? RetryAfterMax { get; init; }

    public EventDestination? DeadLetterSink { get; init; }

    public static DeliveryPolicy From(DeliverySpec? trigger, DeliverySpec? broker) => new()
    {
        Retry = trigger?.Retry ?? broker?.Retry ?? 0,
        Linear = (trigger?.BackoffPolicy ?? broker?.BackoffPolicy) == "linear",
        BackoffDelay = Duration(trigger?.BackoffDelay ?? broker?.BackoffDelay) ?? TimeSpan.Zero,
        Timeout = Duration(trigger?.Timeout ?? broker?.Timeout) ?? DefaultTimeout,
        RetryAfterMax = Duration(trigger?.RetryAfterMax ?? broker?.RetryAfterMax),
        DeadLetterSink = trigger?.DeadLetterSink ?? broker?.DeadLetterSink,
    };

    /// <summary>The wait before retry number <paramref name="retry"/> (1 for the first retry).</summary>
    public TimeSpan Backoff(int retry) =>
        Linear ? BackoffDelay * retry : BackoffDelay * Math.Pow(2, Math.Min(retry, 30));

    /// <summary>
    /// Knative's selective retry: network failures, timeouts, 404, 408, 409, 429 and 5xx are worth
    /// another attempt; any other answer (400, 401, 403, 413 …) will not change and goes to the dead
    /// letter sink at once.
    /// </summary>
    public static bool IsRetryable(int? status) => status switch
    {
        null => true,
        404 or 408 or 409 or 429 => true,
        >= 500 => true,
        _ => false,
    };

    private static TimeSpan? Duration(string? iso)
    {
        if (iso is null)
        {
            return null;
        }

        try
        {
            return XmlConvert.ToTimeSpan(iso);
        }
        catch (FormatException)
        {
            return null;
        }
        catch (OverflowException)
        {
            return null;
        }
    }
}
