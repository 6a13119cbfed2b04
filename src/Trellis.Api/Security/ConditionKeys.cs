namespace Trellis.Api.Security;

/// <summary>
/// The attribute names an AuthorizationPolicy <c>when</c> condition may use (Istio's "Authorization Policy
/// Conditions"); the validator refuses any other key, as istiod does, and the proxy evaluates exactly these.
/// </summary>
public static class ConditionKeys
{
    public const string SourceIp = "source.ip";
    public const string RemoteIp = "remote.ip";
    public const string SourceNamespace = "source.namespace";
    public const string SourcePrincipal = "source.principal";
    public const string AuthPrincipal = "request.auth.principal";
    public const string AuthAudiences = "request.auth.audiences";
    public const string AuthPresenter = "request.auth.presenter";
    public const string DestinationIp = "destination.ip";
    public const string DestinationPort = "destination.port";
    public const string ConnectionSni = "connection.sni";

    /// <summary><c>request.headers[name]</c>.</summary>
    public const string HeaderPrefix = "request.headers[";

    /// <summary><c>request.auth.claims[name]</c>, nested claims as <c>[a][b]</c>.</summary>
    public const string ClaimPrefix = "request.auth.claims[";

    public static readonly IReadOnlySet<string> Plain = new HashSet<string>(StringComparer.Ordinal)
    {
        SourceIp, RemoteIp, SourceNamespace, SourcePrincipal, AuthPrincipal, AuthAudiences, AuthPresenter, DestinationIp, DestinationPort, ConnectionSni,
    };

    /// <summary>Whether <paramref name="key"/> is one of Istio's condition keys; null, else why not.</summary>
    public static string? Problem(string key)
    {
        if (Plain.Contains(key))
        {
            return null;
        }

        if (key.StartsWith(HeaderPrefix, StringComparison.Ordinal))
        {
            return key.Length > HeaderPrefix.Length + 1 && key.EndsWith(']') && key.IndexOf(']', HeaderPrefix.Length) == key.Length - 1
                ? null
                : $"\"{key}\" must be request.headers[NAME]";
        }

        if (key.StartsWith(ClaimPrefix, StringComparison.Ordinal))
        {
            return Claims(key) is { Count: > 0 } ? null : $"\"{key}\" must be request.auth.claims[NAME] (nested: [A][B])";
        }

        return key.StartsWith("experimental.envoy.filters.", StringComparison.Ordinal)
            ? $"\"{key}\": experimental Envoy filter attributes are not supported"
            : $"unknown condition key \"{key}\"";
    }

    /// <summary>The header name of a <c>request.headers[name]</c> key.</summary>
    public static string Header(string key) => key[HeaderPrefix.Length..^1];

    /// <summary>The claim path of a <c>request.auth.claims[a][b]</c> key; null when malformed.</summary>
    public static List<string>? Claims(string key)
    {
        var path = new List<string>();
        var rest = key.AsSpan("request.auth.claims".Length);
        while (rest.Length > 0)
        {
            var close = rest.IndexOf(']');
            if (rest[0] != '[' || close < 2)
            {
                return null;
            }

            path.Add(rest[1..close].ToString());
            rest = rest[(close + 1)..];
        }

        return path;
    }
}
