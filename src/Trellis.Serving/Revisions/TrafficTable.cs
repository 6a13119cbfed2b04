namespace Trellis.Serving.Revisions;

/// <summary>
/// What the proxy needs from a Route: the host of the route and its percent split over revisions (targets that name
/// the same revision merged), and for each tag its own host sending everything to one revision.
/// </summary>
public sealed record TrafficTable(string Host, IReadOnlyList<RevisionSplit> Split, IReadOnlyDictionary<string, TaggedTarget> Tags)
{
    public static TrafficTable Empty(string host) => new(host, [], new Dictionary<string, TaggedTarget>());

    /// <summary>Every host this route answers on, with the split it serves.</summary>
    public IEnumerable<(string Host, IReadOnlyList<RevisionSplit> Split)> Hosts()
    {
        yield return (Host, Split);
        foreach (var tag in Tags.Values)
        {
            yield return (tag.Host, [new RevisionSplit(tag.RevisionName, 100)]);
        }
    }
}

public sealed record RevisionSplit(string RevisionName, long Percent);

public sealed record TaggedTarget(string Tag, string RevisionName, string Host, string Url);
