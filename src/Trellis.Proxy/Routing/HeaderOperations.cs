using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Routing;

/// <summary>
/// Istio <c>HeaderOperations</c>, compiled to arrays. Applied in the order remove, set, add, so
/// that a route can replace a header it also removes and appending never duplicates a set value.
/// </summary>
internal sealed class HeaderOperations
{
    private HeaderOperations(KeyValuePair<string, string>[] set, KeyValuePair<string, string>[] add, string[] remove)
    {
        Set = set;
        Add = add;
        Remove = remove;
    }

    public KeyValuePair<string, string>[] Set { get; }

    public KeyValuePair<string, string>[] Add { get; }

    public string[] Remove { get; }

    public static HeaderOperations? Create(HeaderOperationsConfig? config)
    {
        if (config is null)
        {
            return null;
        }

        var set = config.Set?.ToArray() ?? [];
        var add = config.Add?.ToArray() ?? [];
        var remove = config.Remove?.ToArray() ?? [];
        return set.Length + add.Length + remove.Length == 0 ? null : new HeaderOperations(set, add, remove);
    }

    /// <summary>
    /// <paramref name="first"/> then <paramref name="second"/> as one set of operations, as Envoy applies a weighted
    /// cluster's header edits before its route's: removes of both, sets with the second's value winning, adds of both.
    /// </summary>
    public static HeaderOperations? Merge(HeaderOperations? first, HeaderOperations? second)
    {
        if (first is null || second is null)
        {
            return first ?? second;
        }

        var set = first.Set.Where(f => !second.Set.Any(s => s.Key.Equals(f.Key, StringComparison.OrdinalIgnoreCase))).Concat(second.Set).ToArray();
        return new HeaderOperations(set, [.. first.Add, .. second.Add], first.Remove.Union(second.Remove, StringComparer.OrdinalIgnoreCase).ToArray());
    }

    /// <summary>Applies the operations to Kestrel response headers (request headers are applied by the forwarder).</summary>
    public void ApplyTo(IHeaderDictionary headers)
    {
        foreach (var name in Remove)
        {
            headers.Remove(name);
        }

        foreach (var (name, value) in Set)
        {
            headers[name] = value;
        }

        foreach (var (name, value) in Add)
        {
            headers.Append(name, value);
        }
    }
}
