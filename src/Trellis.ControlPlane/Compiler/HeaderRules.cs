using Trellis.Api.Networking;
using Trellis.Api.Snapshots;

namespace Trellis.ControlPlane.Compiler;

/// <summary>
/// Istio's header operations (pilot's <c>TranslateHeadersOperations</c>): <c>host</c> and <c>:authority</c> in a request
/// <c>set</c> or <c>add</c> are an authority rewrite, not a header (<c>set</c> wins over <c>add</c>); pseudo-headers and
/// <c>host</c> are never set, added or removed as headers, on requests or responses.
/// </summary>
internal static class HeaderRules
{
    public static (HeaderOperationsConfig? Operations, string? Authority) Request(HeaderOperations? ops)
    {
        if (ops is null)
        {
            return (null, null);
        }

        var authority = AuthorityIn(ops.Set) ?? AuthorityIn(ops.Add);
        return (Build(ops), authority);
    }

    public static HeaderOperationsConfig? Response(HeaderOperations? ops) => ops is null ? null : Build(ops);

    /// <summary>A per-destination authority has no field of its own: it travels as a <c>host</c> set, which the proxy applies as the Host.</summary>
    public static HeaderOperationsConfig? WithHost(HeaderOperationsConfig? ops, string? authority)
    {
        if (authority is null)
        {
            return ops;
        }

        var set = new Dictionary<string, string>(ops?.Set ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase) { ["host"] = authority };
        return new HeaderOperationsConfig(set, ops?.Add, ops?.Remove);
    }

    private static HeaderOperationsConfig? Build(HeaderOperations ops)
    {
        var set = ops.Set.Where(kv => !Internal(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
        var add = ops.Add.Where(kv => !Internal(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
        var remove = ops.Remove.Where(k => !Internal(k)).ToList();
        return set.Count + add.Count + remove.Count == 0
            ? null
            : new HeaderOperationsConfig(set.Count > 0 ? set : null, add.Count > 0 ? add : null, remove.Count > 0 ? remove : null);
    }

    private static string? AuthorityIn(IReadOnlyDictionary<string, string> headers) =>
        headers.Where(kv => IsAuthority(kv.Key)).Select(kv => kv.Value).LastOrDefault();

    private static bool IsAuthority(string name) =>
        name.Equals(":authority", StringComparison.OrdinalIgnoreCase) || name.Equals("host", StringComparison.OrdinalIgnoreCase);

    private static bool Internal(string name) => name.StartsWith(':') || name.Equals("host", StringComparison.OrdinalIgnoreCase);
}
