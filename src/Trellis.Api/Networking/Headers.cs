namespace Trellis.Api.Networking;

/// <summary>Header changes for the request (before forwarding) and the response (before returning).</summary>
public sealed record Headers
{
    public HeaderOperations? Request { get; init; }

    public HeaderOperations? Response { get; init; }
}

public sealed record HeaderOperations
{
    /// <summary>Overwrites the header.</summary>
    public IReadOnlyDictionary<string, string> Set { get; init; } = new Dictionary<string, string>();

    /// <summary>Appends a value to the header.</summary>
    public IReadOnlyDictionary<string, string> Add { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<string> Remove { get; init; } = [];
}
