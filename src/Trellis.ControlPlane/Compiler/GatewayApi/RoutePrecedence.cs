namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>
/// Where one match of one rule stands among all the rules that serve a hostname. The Gateway API orders matches
/// across rules and routes: an exact path first, then the longest prefix (then regular expressions, as Istio ranks
/// them), then a method match, then more header matches, then more query parameter matches; ties go to the oldest
/// route, then to the route first by namespace/name, then to rule and match order within the route.
/// </summary>
internal readonly record struct RoutePrecedence(
    int PathRank,
    int PathLength,
    bool HasMethod,
    int Headers,
    int QueryParams,
    DateTimeOffset Created,
    string Route,
    int Rule,
    int Match) : IComparable<RoutePrecedence>
{
    public const int Exact = 0;
    public const int Prefix = 1;
    public const int Regex = 2;

    public int CompareTo(RoutePrecedence other)
    {
        int c;
        if ((c = PathRank.CompareTo(other.PathRank)) != 0 || (c = other.PathLength.CompareTo(PathLength)) != 0
            || (c = other.HasMethod.CompareTo(HasMethod)) != 0 || (c = other.Headers.CompareTo(Headers)) != 0
            || (c = other.QueryParams.CompareTo(QueryParams)) != 0 || (c = Created.CompareTo(other.Created)) != 0
            || (c = string.CompareOrdinal(Route, other.Route)) != 0 || (c = Rule.CompareTo(other.Rule)) != 0)
        {
            return c;
        }

        return Match.CompareTo(other.Match);
    }
}
