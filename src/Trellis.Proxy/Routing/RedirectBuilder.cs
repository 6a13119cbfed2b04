using System.Globalization;
using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Routing;

/// <summary>Builds the Location of an Istio <c>HTTPRedirect</c>: unset parts keep the request's values.</summary>
internal static class RedirectBuilder
{
    public static string Location(RedirectConfig redirect, string scheme, string authority, string path, string? query)
    {
        var target = redirect.Authority ?? authority;
        if (redirect.Port is int port)
        {
            var colon = RouteRequest.AuthorityPortSeparator(target);
            target = (colon >= 0 ? target[..colon] : target) + ":" + port.ToString(CultureInfo.InvariantCulture);
        }

        // As Envoy's path_redirect: a query in the configured URI replaces the request's, otherwise it is kept.
        var newPath = redirect.Uri ?? path;
        var newQuery = redirect.Uri is not null && redirect.Uri.Contains('?') ? string.Empty : query;
        return string.Concat(redirect.Scheme ?? scheme, "://", target, newPath, newQuery);
    }
}
