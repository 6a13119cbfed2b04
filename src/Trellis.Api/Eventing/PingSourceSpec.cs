namespace Trellis.Api.Eventing;

/// <summary>Knative <c>sources.knative.dev/v1 PingSource</c>: sends a fixed event to the sink on a cron schedule.</summary>
public sealed record PingSourceSpec
{
    /// <summary>Five-field cron expression, optionally prefixed with <c>CRON_TZ=</c>.</summary>
    public required string Schedule { get; init; }

    /// <summary>IANA time zone, e.g. <c>Europe/Paris</c>; defaults to the system zone.</summary>
    public string? Timezone { get; init; }

    public string? ContentType { get; init; }

    public string? Data { get; init; }

    public string? DataBase64 { get; init; }

    public required EventDestination Sink { get; init; }

    public CloudEventOverrides? CeOverrides { get; init; }
}

public sealed record CloudEventOverrides
{
    public IReadOnlyDictionary<string, string> Extensions { get; init; } = new Dictionary<string, string>();
}
