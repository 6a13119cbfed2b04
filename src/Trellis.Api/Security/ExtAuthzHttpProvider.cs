using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Trellis.Api.Security;

/// <summary>
/// An <c>extensionProviders[].envoyExtAuthzHttp</c> entry of the mesh configuration (istio/api
/// <c>MeshConfig.ExtensionProvider.EnvoyExternalAuthorizationHttpProvider</c>): the HTTP external authorizer that
/// AuthorizationPolicies with <c>action: CUSTOM</c> name as their <c>provider</c>.
/// </summary>
/// <param name="Service">The authorizer's host, dialled by name (DNS or an IP literal).</param>
public sealed record ExtAuthzHttpProvider(string Name, string Service, int Port) : Observability.ExtensionProvider(Name)
{
    /// <summary>How long the proxy waits for the authorizer (Istio's default: 10 minutes).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Prepended to the request's path in the check request.</summary>
    public string PathPrefix { get; init; } = "";

    /// <summary>Let the request through when the authorizer cannot be reached or fails.</summary>
    public bool FailOpen { get; init; }

    /// <summary>The status the client gets when the authorizer cannot be reached (Istio's default 403).</summary>
    public int StatusOnError { get; init; } = 403;

    /// <summary>Client request headers sent in the check request (besides the method, path and host).</summary>
    public IReadOnlyList<string> IncludeRequestHeadersInCheck { get; init; } = [];

    /// <summary>Headers added to the check request, name to value.</summary>
    public IReadOnlyDictionary<string, string> IncludeAdditionalHeadersInCheck { get; init; } = new Dictionary<string, string>();

    /// <summary>Authorizer response headers copied into the upstream request when it allows.</summary>
    public IReadOnlyList<string> HeadersToUpstreamOnAllow { get; init; } = [];

    /// <summary>Authorizer response headers sent to the client when it denies.</summary>
    public IReadOnlyList<string> HeadersToDownstreamOnDeny { get; init; } = [];

    /// <summary>
    /// Istio's fields of the entry that Trellis keeps but does not act on, each with what is missing: set, they are
    /// reported at apply and analyze as accepted, not enforced (TRL0200), as every such field is.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> NotActedOn = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["includeRequestBodyInCheck"] = "the check request carries no body",
        ["headersToDownstreamOnAllow"] = "the authorizer's headers are not added to the response when it allows",
        ["clearRouteCache"] = "the route is chosen once, before the check",
    };

    /// <summary>The fields Trellis reads; any other field of the entry, Istio's or not, is refused.</summary>
    private static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "service", "port", "timeout", "pathPrefix", "failOpen", "statusOnError", "includeRequestHeadersInCheck",
        "includeAdditionalHeadersInCheck", "headersToUpstreamOnAllow", "headersToDownstreamOnDeny",
    };

    /// <summary>The <see cref="NotActedOn"/> fields this entry sets.</summary>
    public IReadOnlyList<string> NotEnforced { get; init; } = [];

    /// <summary>Reads the entry; the error is the field path after <c>envoyExtAuthzHttp</c> and why.</summary>
    public static (Observability.ExtensionProvider? Provider, string? Error) Parse(string name, YamlNode node)
    {
        if (node is not YamlMappingNode map)
        {
            return (null, " must be a map");
        }

        var notEnforced = new List<string>();
        foreach (var key in map.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value ?? ""))
        {
            if (NotActedOn.ContainsKey(key))
            {
                notEnforced.Add(key);
            }
            else if (!Known.Contains(key))
            {
                return (null, $".{key}: not supported (Trellis reads {string.Join(", ", Known.Order(StringComparer.Ordinal))})");
            }
        }

        if (Scalar(map, "service") is not { Length: > 0 } service)
        {
            return (null, ".service is required");
        }

        var portText = Scalar(map, "port");
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return (null, $".port: \"{portText}\" is not a port number");
        }

        var provider = new ExtAuthzHttpProvider(name, service, port);
        if (Scalar(map, "timeout") is { } timeout)
        {
            if (!Durations.TryParse(timeout, out var parsed) || parsed <= TimeSpan.Zero)
            {
                return (null, $".timeout: \"{timeout}\" is not a positive duration");
            }

            provider = provider with { Timeout = parsed };
        }

        if (Scalar(map, "pathPrefix") is { Length: > 0 } prefix)
        {
            if (!prefix.StartsWith('/'))
            {
                return (null, $".pathPrefix: \"{prefix}\" must start with /");
            }

            provider = provider with { PathPrefix = prefix.TrimEnd('/') };
        }

        if (Scalar(map, "failOpen") is { } failOpen)
        {
            if (!bool.TryParse(failOpen, out var open))
            {
                return (null, $".failOpen: \"{failOpen}\" is not true or false");
            }

            provider = provider with { FailOpen = open };
        }

        if (Scalar(map, "statusOnError") is { } status)
        {
            if (!int.TryParse(status, NumberStyles.None, CultureInfo.InvariantCulture, out var code) || code is < 200 or > 599)
            {
                return (null, $".statusOnError: \"{status}\" is not an HTTP status");
            }

            provider = provider with { StatusOnError = code };
        }

        var additional = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (map.Children.TryGetValue(new YamlScalarNode("includeAdditionalHeadersInCheck"), out var extra))
        {
            if (extra is not YamlMappingNode extraMap)
            {
                return (null, ".includeAdditionalHeadersInCheck must be a map");
            }

            foreach (var (key, value) in extraMap.Children)
            {
                additional[(key as YamlScalarNode)?.Value ?? ""] = (value as YamlScalarNode)?.Value ?? "";
            }
        }

        return (provider with
        {
            IncludeRequestHeadersInCheck = Names(map, "includeRequestHeadersInCheck"),
            IncludeAdditionalHeadersInCheck = additional,
            HeadersToUpstreamOnAllow = Names(map, "headersToUpstreamOnAllow"),
            HeadersToDownstreamOnDeny = Names(map, "headersToDownstreamOnDeny"),
            NotEnforced = notEnforced,
        }, null);
    }

    private static List<string> Names(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var node) && node is YamlSequenceNode list
            ? list.Children.OfType<YamlScalarNode>().Select(n => n.Value ?? "").Where(n => n.Length > 0).ToList()
            : [];

    private static string? Scalar(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var node) && node is YamlScalarNode s ? s.Value ?? "" : null;
}
