namespace Trellis.Api.Eventing;

/// <summary>Knative <c>eventing.knative.dev/v1 Broker</c>: an event mesh that Triggers subscribe to.</summary>
public sealed record BrokerSpec
{
    public KReference? Config { get; init; }

    public DeliverySpec? Delivery { get; init; }
}

/// <summary>Retry and dead-letter policy for delivering events.</summary>
public sealed record DeliverySpec
{
    public EventDestination? DeadLetterSink { get; init; }

    public int? Retry { get; init; }

    /// <summary><c>linear</c> or <c>exponential</c>.</summary>
    public string? BackoffPolicy { get; init; }

    /// <summary>ISO 8601 duration, e.g. <c>PT0.2S</c>.</summary>
    public string? BackoffDelay { get; init; }

    /// <summary>ISO 8601 duration.</summary>
    public string? Timeout { get; init; }

    public string? RetryAfterMax { get; init; }
}

/// <summary>Where events go: an addressable object (<see cref="Ref"/>), a <see cref="Uri"/>, or a URI relative to the ref.</summary>
public sealed record EventDestination
{
    public KReference? Ref { get; init; }

    public string? Uri { get; init; }

    [System.Text.Json.Serialization.JsonPropertyName("CACerts")]
    public string? CACerts { get; init; }

    public string? Audience { get; init; }

    /// <summary>
    /// Whether <paramref name="value"/> is a URI events can be sent to on its own: absolute, http or https (Knative
    /// wants a scheme; .NET alone would take <c>/events</c> for an absolute file path on Unix).
    /// </summary>
    public static bool TryAbsoluteHttp(string? value, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out System.Uri? uri)
    {
        if (System.Uri.TryCreate(value, UriKind.Absolute, out uri) && uri.Scheme is "http" or "https")
        {
            return true;
        }

        uri = null;
        return false;
    }
}

public sealed record KReference
{
    public required string Kind { get; init; }

    public string? Namespace { get; init; }

    public required string Name { get; init; }

    public required string ApiVersion { get; init; }
}
