using System.Net.Http.Headers;

namespace Trellis.ControlPlane.Tests.ApiServer;

/// <summary>The API as an admin calls it: the token the control plane made on first start in its data directory.</summary>
public static class AdminClients
{
    public static string Token(ControlPlaneHost host) => File.ReadAllText(host.Tokens.AdminTokenPath!).Trim();

    public static HttpClient For(ControlPlaneHost host)
    {
        // The CA's roots: an --api-tls control plane's certificate verifies with them (and http ignores them).
        var http = new HttpClient(Trellis.Api.Access.ControlPlaneTrust.FromRoots(host.Ca.Roots).Apply(new SocketsHttpHandler())) { BaseAddress = host.ApiUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token(host));
        return http;
    }
}
