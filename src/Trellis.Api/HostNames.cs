namespace Trellis.Api;

/// <summary>
/// How a host written in a resource names a service, as Istio resolves it: a short name is relative to the
/// namespace of the resource that wrote it.
/// </summary>
public static class HostNames
{
    public const string ClusterDomain = "svc.cluster.local";

    /// <summary>
    /// <c>reviews</c> in <c>ns</c> → <c>reviews.ns.svc.cluster.local</c>; <c>reviews.other</c> →
    /// <c>reviews.other.svc.cluster.local</c>; <c>reviews.other.svc</c> → <c>reviews.other.svc.cluster.local</c>;
    /// anything else (an FQDN, a wildcard, an external name such as <c>www.google.com</c>) is kept, lowercased.
    /// </summary>
    /// <remarks>
    /// Istio expands only the short form; the two-label and <c>.svc</c> forms are the Kubernetes DNS search-path
    /// names a workload can use, so they are folded to the same FQDN here. A two-label external name such as
    /// <c>example.com</c> therefore reads as service <c>example</c> in namespace <c>com</c>, exactly as inside a pod.
    /// </remarks>
    public static string Qualify(string host, string ns)
    {
        var h = host.Trim().TrimEnd('.').ToLowerInvariant();
        if (h.Length == 0 || h.StartsWith('*'))
        {
            return h;
        }

        var dots = h.Count(c => c == '.');
        if (dots == 0)
        {
            return $"{h}.{(string.IsNullOrEmpty(ns) ? ResourceKey.DefaultNamespace : ns)}.{ClusterDomain}";
        }

        if (dots == 1)
        {
            return $"{h}.{ClusterDomain}";
        }

        if (dots == 2 && h.EndsWith(".svc", StringComparison.Ordinal))
        {
            return $"{h}.cluster.local";
        }

        return h;
    }

    /// <summary>Whether <paramref name="host"/> matches <paramref name="pattern"/>, which may start with <c>*</c> (any suffix).</summary>
    public static bool Matches(string pattern, string host)
    {
        if (pattern == "*")
        {
            return true;
        }

        return pattern.StartsWith('*')
            ? host.EndsWith(pattern[1..], StringComparison.OrdinalIgnoreCase)
            : string.Equals(pattern, host, StringComparison.OrdinalIgnoreCase);
    }
}
