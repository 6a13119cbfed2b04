using System.Globalization;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Routing;

/// <summary>Builds the Location of an Istio <c>HTTPRedirect</c> or Gateway API <c>RequestRedirect</c>: unset parts keep the request's values.</summary>
internal static class RedirectBuilder
{
    /// <param name="matched">The match that selected the route; its prefix is what <see cref="RedirectConfig.PrefixRewrite"/> replaces.</param>
    public static string Location(RedirectConfig redirect, string scheme, string authority, string path, string? query, CompiledMatch? matched = null)
    {
        var newScheme = redirect.Scheme ?? scheme;
        var target = redirect.Authority ?? authority;
        if (redirect.Port is int port)
        {
            var colon = RouteRequest.AuthorityPortSeparator(target);
            target = colon >= 0 ? target[..colon] : target;
            // A well-known port is left out, as Envoy and the Gateway API spec do: http://host/ rather than http://host:80/.
            if (!IsWellKnown(newScheme, port))
            {
                target += ":" + port.ToString(CultureInfo.InvariantCulture);
            }
        }

        // As Envoy's path_redirect: a query in the configured URI replaces the request's, otherwise it is kept.
        var newPath = redirect.Uri ?? (redirect.PrefixRewrite is { } prefix ? ReplacePrefix(path, prefix, matched) : path);
        var newQuery = redirect.Uri is not null && redirect.Uri.Contains('?') ? string.Empty : query;
        return string.Concat(newScheme, "://", target, newPath, newQuery);
    }

    private static bool IsWellKnown(string scheme, int port) =>
        (port == 80 && scheme.Equals("http", StringComparison.OrdinalIgnoreCase)) || (port == 443 && scheme.Equals("https", StringComparison.OrdinalIgnoreCase));

    private static string ReplacePrefix(string path, string replacement, CompiledMatch? matched)
    {
        var length = matched?.Uri?.PrefixLength ?? 0;
        return length > 0 && length <= path.Length ? string.Concat(replacement, path.AsSpan(length)) : replacement;
    }
}
