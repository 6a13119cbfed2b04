namespace Trellis.Api.Networking;

public sealed record CorsPolicy
{
    public IReadOnlyList<StringMatch> AllowOrigins { get; init; } = [];

    /// <summary>Deprecated exact-match form of <see cref="AllowOrigins"/>.</summary>
    public IReadOnlyList<string> AllowOrigin { get; init; } = [];

    public IReadOnlyList<string> AllowMethods { get; init; } = [];

    public IReadOnlyList<string> AllowHeaders { get; init; } = [];

    public IReadOnlyList<string> ExposeHeaders { get; init; } = [];

    public string? MaxAge { get; init; }

    public bool? AllowCredentials { get; init; }

    public string? UnmatchedPreflights { get; init; }
}
