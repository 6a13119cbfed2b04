using System.Net;
using System.Net.Sockets;
using Trellis.Proxy.Tests.Security;

namespace Trellis.EndToEnd.Tests.Security;

/// <summary>
/// Policies at the ingress gateway through the real binary (<c>trellis up</c>), as Istio's tasks "Ingress Gateway"
/// and "Authorization with JWT" use them: AuthorizationPolicies and a RequestAuthentication in <c>istio-system</c> that
/// select the gateway by its label. The backend has no policy of its own, so each refusal comes from the gateway:
/// another client address and <c>/admin</c> are 403 <c>RBAC: access denied</c>, a bad token 401, <c>/secure</c> needs
/// a good token.
/// </summary>
public sealed class GatewayAuthorizationTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-gwauthz-" + Guid.NewGuid().ToString("N"));
    private readonly JwtTokens _tokens = new(DateTimeOffset.UtcNow); // the binary reads the real clock
    private readonly HttpClient _http = Client(IPAddress.Loopback);
    private readonly HttpClient _elsewhere = Client(IPAddress.Parse("127.0.0.2"));
    private TrellisProcess? _up;
    private int _gatewayPort;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _gatewayPort = FreePorts.Next();
        var echo = Path.Combine(TrellisBinary.RepoRoot, "samples", "echo", "bin", "echo.dll");
        var source = await File.ReadAllTextAsync(Path.Combine(TrellisBinary.RepoRoot, "test", "Trellis.EndToEnd.Tests", "Security", "gateway-policy-mesh.yaml"));
        var mesh = Path.Combine(_dir, "gateway-policy-mesh.yaml");
        await File.WriteAllTextAsync(mesh, source
            .Replace("ECHO_DLL", echo, StringComparison.Ordinal)
            .Replace("GATEWAY_PORT", _gatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("JWKS", _tokens.Jwks.ReplaceLineEndings(""), StringComparison.Ordinal));
        _up = TrellisProcess.Start("up", mesh, "--data-dir", Path.Combine(_dir, "data"),
            "--api-address", $"127.0.0.1:{FreePorts.Next()}", "--push-address", $"127.0.0.1:{FreePorts.Next()}");
    }

    public async Task DisposeAsync()
    {
        if (_up is not null)
        {
            await _up.DisposeAsync();
        }

        _http.Dispose();
        _elsewhere.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task PoliciesSelectingTheGateway_EnforcedAtTheGateway()
    {
        await Eventually.WaitAsync(async () => (await SendAsync(_http, "/headers", null)).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(120), "200 through the gateway", _up!);

        Assert.Equal((HttpStatusCode.Forbidden, "RBAC: access denied"), await SendAsync(_elsewhere, "/headers", null));
        Assert.Equal((HttpStatusCode.Forbidden, "RBAC: access denied"), await SendAsync(_http, "/admin/users", null));
        Assert.Equal((HttpStatusCode.Forbidden, "RBAC: access denied"), await SendAsync(_http, "/secure", null));
        Assert.Equal((HttpStatusCode.Unauthorized, "Jwt verification fails"), await SendAsync(_http, "/headers", _tokens.Tampered()));
        Assert.Equal((HttpStatusCode.Unauthorized, "Jwt verification fails"), await SendAsync(_http, "/secure", _tokens.Tampered()));
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(_http, "/secure", _tokens.Rs256())).Status);
    }

    /// <summary>A client whose connections leave from <paramref name="source"/> (any 127/8 address reaches loopback).</summary>
    private static HttpClient Client(IPAddress source) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        ConnectCallback = async (context, token) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(context.DnsEndPoint, token);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { Timeout = TimeSpan.FromSeconds(15) };

    private async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpClient client, string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{_gatewayPort}{path}");
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        }

        try
        {
            using var response = await client.SendAsync(request);
            return (response.StatusCode, (await response.Content.ReadAsStringAsync()).Trim());
        }
        catch (HttpRequestException)
        {
            return (0, "");
        }
    }
}
