namespace Trellis.ControlPlane.Compiler.GatewayApi;

/// <summary>
/// The Gateway API's hostname rules: a listener's <c>hostname</c> and a route's <c>hostnames</c> intersect, and the
/// requests a route serves through that listener are those for the intersection. <c>*.example.com</c> stands for
/// any name with at least one more label in front (<c>a.example.com</c>, <c>a.b.example.com</c>), never for
/// <c>example.com</c> itself.
/// </summary>
internal static class RouteHostnames
{
    /// <summary>The names a route serves on a listener; empty when they do not intersect. <c>*</c> means any host.</summary>
    public static IReadOnlyList<string> Intersect(string? listenerHostname, IReadOnlyList<string> routeHostnames)
    {
        var listener = string.IsNullOrEmpty(listenerHostname) ? null : listenerHostname.ToLowerInvariant();
        if (routeHostnames.Count == 0)
        {
            return [listener ?? "*"];
        }

        var result = new List<string>();
        foreach (var written in routeHostnames)
        {
            var route = written.ToLowerInvariant();
            string? name = listener is null ? route
                : route == listener ? route
                : Covers(listener, route) ? route
                : Covers(route, listener) ? listener
                : null;
            if (name is not null && !result.Contains(name))
            {
                result.Add(name);
            }
        }

        return result;
    }

    /// <summary>Whether wildcard <paramref name="pattern"/> covers every name <paramref name="name"/> stands for.</summary>
    public static bool Covers(string pattern, string name)
    {
        if (!pattern.StartsWith("*.", StringComparison.Ordinal))
        {
            return false;
        }

        var suffix = pattern[1..]; // ".example.com"
        var bare = name.StartsWith("*.", StringComparison.Ordinal) ? name[1..] : name;
        return bare.Length > suffix.Length && bare.EndsWith(suffix, StringComparison.Ordinal);
    }

    /// <summary>How specific a listener hostname is: an exact name beats any wildcard, a longer name a shorter one.</summary>
    public static int Specificity(string? hostname) =>
        string.IsNullOrEmpty(hostname) ? 0 : hostname.StartsWith('*') ? hostname.Length : 10_000 + hostname.Length;
}
