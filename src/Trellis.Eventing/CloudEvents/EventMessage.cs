namespace Trellis.Eventing.CloudEvents;

/// <summary>
/// An HTTP message as the CloudEvents HTTP binding sees it, without ASP.NET: the Content-Type, the
/// other headers (names in any case) and the whole body. Hosts adapt their request types to it.
/// </summary>
public sealed record EventMessage(string? ContentType, IReadOnlyList<KeyValuePair<string, string>> Headers, ReadOnlyMemory<byte> Body);
