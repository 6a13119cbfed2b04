namespace Trellis.Eventing.Delivery;

/// <summary>
/// One attempt's result as a value: the status (null when no answer came: refused, reset, timed out),
/// the answer's body (kept for a reply event and for <c>knativeerrordata</c>) and its headers.
/// </summary>
public sealed record AttemptResult(int? Status, string? Error, ReadOnlyMemory<byte> Body, string? ContentType, IReadOnlyList<KeyValuePair<string, string>> Headers)
{
    public bool Succeeded => Status is >= 200 and < 300;

    public static AttemptResult Failed(string error) => new(null, error, ReadOnlyMemory<byte>.Empty, null, []);
}
