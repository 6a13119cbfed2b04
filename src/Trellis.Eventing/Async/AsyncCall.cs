using System.Text.Json.Serialization;

namespace Trellis.Eventing.Async;

/// <summary>
/// One queued invocation (OpenFaaS's async call): the function, the request to replay (method, path,
/// query, headers, body) and where to post the result. Stored as JSON in the queue's log.
/// </summary>
public sealed record AsyncCall
{
    public required string Id { get; init; }

    public required string Namespace { get; init; }

    public required string Function { get; init; }

    public string Method { get; init; } = "POST";

    /// <summary>The path after <c>/async-function/{name}</c>, with its query; "/" when none.</summary>
    public string Path { get; init; } = "/";

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    public byte[] Body { get; init; } = [];

    public string? CallbackUrl { get; init; }

    public DateTimeOffset QueuedAt { get; init; }
}

[JsonConverter(typeof(JsonStringEnumConverter<CallPhase>))]
public enum CallPhase
{
    Pending,
    Running,
    Done,
    Failed,
}

/// <summary>What <c>trellis get calls</c> shows for one call.</summary>
public sealed record CallState(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("namespace")] string Namespace,
    [property: JsonPropertyName("function")] string Function,
    [property: JsonPropertyName("phase")] CallPhase Phase,
    [property: JsonPropertyName("attempts")] int Attempts,
    [property: JsonPropertyName("statusCode")] int? StatusCode,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("queuedAt")] DateTimeOffset QueuedAt,
    [property: JsonPropertyName("finishedAt")] DateTimeOffset? FinishedAt,
    [property: JsonPropertyName("callback")] string? Callback);
