namespace Trellis.Serving.Revisions;

/// <summary>How routes are named: <c>http://{name}.{namespace}.{Domain}</c>, tags as <c>{tag}-{name}</c>.</summary>
public sealed record ServingOptions
{
    public static ServingOptions Default { get; } = new();

    /// <summary>Knative's default domain when none is configured.</summary>
    public string Domain { get; init; } = "example.com";

    public string Scheme { get; init; } = "http";

    public string Host(string name, string ns) => $"{name}.{ns}.{Domain}";

    public string TagHost(string tag, string name, string ns) => Host($"{tag}-{name}", ns);

    public string Url(string host) => $"{Scheme}://{host}";
}
