namespace Trellis.Api.Networking;

/// <summary>Exactly one of <see cref="Exact"/>, <see cref="Prefix"/> or <see cref="Regex"/> (RE2 syntax upstream).</summary>
public sealed record StringMatch
{
    public string? Exact { get; init; }

    public string? Prefix { get; init; }

    public string? Regex { get; init; }
}
