using System.Net;
using Trellis.Proxy.Tests.Security;

namespace Trellis.EndToEnd.Tests.Security;

/// <summary>
/// Istio's task "Authorization with JWT" through the real binary (<c>trellis up</c>): a RequestAuthentication whose
/// JWKS the control plane fetches from a server of the test's on loopback, and an AuthorizationPolicy requiring
/// <c>requestPrincipals: ["*"]</c>. No token is 403 (the policy), a bad token 401 (authentication), a good one 200.
/// </summary>
public sealed class JwtAuthorizationTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-jwt-" + Guid.NewGuid().ToString("N"));
    private readonly HttpListener _jwksServer = new();
    private readonly HttpClient _http = new(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false })) { Timeout = TimeSpan.FromSeconds(15) };
    private readonly JwtTokens _tokens = new(DateTimeOffset.UtcNow); // the binary reads the real clock
    private TrellisProcess? _up;
    private Task _serving = Task.CompletedTask;
    private int _gatewayPort;
    private int _jwksRequests;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        var jwksPort = FreePorts.Next();
        _jwksServer.Prefixes.Add($"http://127.0.0.1:{jwksPort}/");
        _jwksServer.Start();
        _serving = ServeJwksAsync(_tokens.Jwks);

        _gatewayPort = FreePorts.Next();
        var echo = Path.Combine(TrellisBinary.RepoRoot, "samples", "echo", "bin", "echo.dll");
        var source = await File.ReadAllTextAsync(Path.Combine(TrellisBinary.RepoRoot, "test", "Trellis.EndToEnd.Tests", "Security", "jwt-mesh.yaml"));
        var mesh = Path.Combine(_dir, "jwt-mesh.yaml");
        await File.WriteAllTextAsync(mesh, source
            .Replace("ECHO_DLL", echo, StringComparison.Ordinal)
            .Replace("GATEWAY_PORT", _gatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("JWKS_URI", $"http://127.0.0.1:{jwksPort}/jwks", StringComparison.Ordinal));
        _up = TrellisProcess.Start("up", mesh, "--data-dir", Path.Combine(_dir, "data"),
            "--api-address", $"127.0.0.1:{FreePorts.Next()}", "--push-address", $"127.0.0.1:{FreePorts.Next()}");
    }

    public async Task DisposeAsync()
    {
        if (_up is not null)
        {
            await _up.DisposeAsync();
        }

        _jwksServer.Close();
        await _serving;
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task RequestAuthenticationAndRequirePrincipal_NoToken403_BadToken401_GoodToken200()
    {
        // The policy is in force once a request without a token is refused by it (until the echo pod is up: 503).
        await Eventually.WaitAsync(async () => (await SendAsync(null)).Status == HttpStatusCode.Forbidden, TimeSpan.FromSeconds(120), "403 without a token", _up!);
        var missing = await SendAsync(null);
        Assert.Equal("RBAC: access denied", missing.Body);

        // The keys arrive from the JWKS server through the control plane: until then a good token is refused too.
        await Eventually.WaitAsync(async () => (await SendAsync(_tokens.Rs256())).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "200 with a good token", _up!);
        Assert.True(Volatile.Read(ref _jwksRequests) >= 1);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(_tokens.Es256())).Status);

        var forged = await SendAsync(_tokens.Tampered());
        Assert.Equal((HttpStatusCode.Unauthorized, "Jwt verification fails"), (forged.Status, forged.Body));
        var expired = await SendAsync(_tokens.Rs256(d => { d.NotBefore = _tokens.Now.UtcDateTime.AddHours(-2); d.Expires = _tokens.Now.UtcDateTime.AddHours(-1); }));
        Assert.Equal((HttpStatusCode.Unauthorized, "Jwt is expired"), (expired.Status, expired.Body));
        var stranger = await SendAsync(_tokens.Rs256(d => d.Issuer = "https://other.test"));
        Assert.Equal((HttpStatusCode.Unauthorized, "Jwt issuer is not configured"), (stranger.Status, stranger.Body));
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(_tokens.AlgNone())).Status);
    }

    private async Task<(HttpStatusCode Status, string Body)> SendAsync(string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{_gatewayPort}/headers");
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        }

        try
        {
            using var response = await _http.SendAsync(request);
            return (response.StatusCode, (await response.Content.ReadAsStringAsync()).Trim());
        }
        catch (HttpRequestException)
        {
            return (0, "");
        }
    }

    private Task ServeJwksAsync(string jwks) => Task.Run(async () =>
    {
        while (true)
        {
            HttpListenerContext context;
            try
            {
                context = await _jwksServer.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _jwksRequests);
            context.Response.ContentType = "application/json";
            var body = System.Text.Encoding.UTF8.GetBytes(jwks);
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
    });
}
