using Trellis.Cli.Client;
using Trellis.ControlPlane.Auth;

namespace Trellis.Cli.Roles;

/// <summary>
/// What <c>trellis up</c> and <c>trellis controlplane</c> tell the user about the admin credential: the owner-only
/// file it is in (made on first start), and a context with it in the CLI config (<c>~/.trellis/config</c>, or
/// <c>TRELLIS_CONFIG</c>) made current, so the CLI on this machine just works (k3s writes its kubeconfig the same way).
/// </summary>
public static class AdminContext
{
    /// <summary>The context's name for a control plane at <paramref name="api"/>: one per address, so several can coexist.</summary>
    public static string Name(Uri api) => $"trellis@{api.Authority}";

    /// <summary>
    /// Beyond loopback the API still wants a credential on every request, but without <c>--api-tls</c> it is cleartext
    /// HTTP: a token (or a node's signed request, within its 5 minute window) can be read and replayed by whoever sees
    /// the traffic. Said at start.
    /// </summary>
    public static void WarnIfExposed(System.Net.IPEndPoint api, bool tls)
    {
        if (!tls && !System.Net.IPAddress.IsLoopback(api.Address))
        {
            Console.Error.WriteLine($"warning: the API listens on {api} in cleartext: every request needs a token or a node identity, "
                + "but whoever can see the traffic can read and reuse them; use --api-tls, or keep it on a network you trust (docs/security.md)");
        }
    }

    /// <summary>The control plane's tokens in <paramref name="dataDirectory"/> (made on first start); null, said on stderr, when they cannot be read.</summary>
    public static TokenStore? OpenTokens(string dataDirectory, string? tokenAuthFile)
    {
        try
        {
            return TokenStore.Open(TokenStore.DirectoryIn(dataDirectory), tokenAuthFile, TimeProvider.System);
        }
        catch (Exception e) when (e is InvalidOperationException or System.Text.Json.JsonException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine("error: API tokens: " + e.Message);
            return null;
        }
    }

    /// <summary>The URL a client on this machine reaches an API listening on <paramref name="endpoint"/> at (a wildcard is reached on loopback).</summary>
    public static Uri Url(System.Net.IPEndPoint endpoint, bool tls = false)
    {
        var address = endpoint.Address.Equals(System.Net.IPAddress.Any) ? System.Net.IPAddress.Loopback
            : endpoint.Address.Equals(System.Net.IPAddress.IPv6Any) ? System.Net.IPAddress.IPv6Loopback : endpoint.Address;
        return new Uri($"{(tls ? "https" : "http")}://{new System.Net.IPEndPoint(address, endpoint.Port)}");
    }

    /// <summary>
    /// The admin token (null when the operator gave static tokens only) after the context for <paramref name="api"/> was
    /// written and announced. The roles call it before the API listens (when its port is known), so that whoever sees
    /// the API answer finds the context already there. <paramref name="caFile"/>: for an https API, the root file the
    /// context verifies it with (it may not exist yet: the CA makes it on first start, before the API listens).
    /// </summary>
    public static string? Publish(TokenStore tokens, Uri api, string? caFile = null)
    {
        if (tokens.AdminTokenPath is not { } file || !File.Exists(file))
        {
            Console.WriteLine("API tokens: from --token-auth-file (no admin token was made)");
            return null;
        }

        var token = File.ReadAllText(file).Trim();
        var server = api.ToString().TrimEnd('/');
        try
        {
            var config = ClientConfig.Save(new ClientContext(Name(api), server, token, caFile));
            Console.WriteLine($"Admin token: {file} (owner-only); CLI context {Name(api)} in {config} is current");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            Console.WriteLine($"Admin token: {file} (owner-only); the CLI config could not be written ({e.Message}): use TRELLIS_TOKEN=$(cat {file})");
        }

        return token;
    }
}
