using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Trellis.EndToEnd.Tests.Egress;

/// <summary>
/// Istio's egress TLS origination task through the real binary: a workload calls <c>http://api.external.example</c> in
/// cleartext through its outbound listener; a ServiceEntry sends port 80 to an HTTPS server on 127.0.0.2 (port 80's
/// targetPort), and a DestinationRule's port-level <c>tls</c> makes the proxy originate TLS there, checking the server
/// against the CA of a Secret (<c>credentialName</c>); MUTUAL then presents a client certificate. A rule naming a
/// Secret that does not exist is refused at apply and changes nothing.
/// </summary>
public sealed class TlsOriginationTests : IAsyncLifetime
{
    private const string Host = "api.external.example";

    private const string Client = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: client}
        spec:
          selector: {matchLabels: {app: client}}
          template:
            metadata: {labels: {app: client}}
            spec:
              containers:
              - name: echo
                command: ["dotnet", "ECHO_DLL"]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: client}
        spec:
          selector: {app: client}
          ports: [{name: http, port: 80}]
        """;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-tls-origination-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false, UseCookies = false })) { Timeout = TimeSpan.FromSeconds(10) };
    private readonly TestCa _ca = new();
    private X509Certificate2 _serverCertificate = null!;
    private TrellisProcess _up = null!;
    private ControlPlaneApi _api = null!;
    private ExternalServer _external = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _serverCertificate = _ca.Issue(Host);
        _external = new ExternalServer("external-tls", IPAddress.Parse("127.0.0.2"), _serverCertificate, _ca.Root);
        var api = FreePorts.Next();
        _api = new ControlPlaneApi(_http, $"http://127.0.0.1:{api}", "tls-origination");
        _up = TrellisProcess.Start("up", "--data-dir", Path.Combine(_dir, "data"), "--api-address", $"127.0.0.1:{api}",
            "--push-address", $"127.0.0.1:{FreePorts.Next()}", "--pool-size", "0");
        try
        {
            await Eventually.WaitAsync(_api.HealthyAsync, TimeSpan.FromSeconds(60), "the API", _up);
            await _api.ApplyAsync(Client.Replace("ECHO_DLL", Path.Combine(TrellisBinary.RepoRoot, "samples", "echo", "bin", "echo.dll"), StringComparison.Ordinal));
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        await _up.DisposeAsync();
        await _external.DisposeAsync();
        _serverCertificate?.Dispose();
        _ca.Dispose();
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task EgressTlsOrigination_SimpleThenMutual_BadCredentialRefusedAtApply()
    {
        var outbound = await _api.OutboundPortAsync(_up);
        await _api.ApplyAsync($$"""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: external-api}
            spec:
              hosts: [{{Host}}]
              location: MESH_EXTERNAL
              ports:
              - {number: 80, name: http-port, protocol: HTTP, targetPort: {{_external.Port}}}
              resolution: STATIC
              endpoints: [{address: {{_external.Address}}}]
            """);

        // A rule whose Secret does not exist: refused with the reason, nothing stored.
        var (status, body) = await _api.TryApplyAsync(Rule("SIMPLE", "external-ca"));
        Assert.Equal(422, status);
        Assert.Contains("Secret default/external-ca (credentialName) not found", body, StringComparison.Ordinal);
        Assert.Null(await _api.TryGetAsync("/apis/networking.istio.io/v1/namespaces/default/destinationrules/external-api"));

        // SIMPLE: the cleartext request leaves the mesh as TLS, SNI and server name checked against the host asked for.
        await _api.ApplyAsync(Secret("external-ca", ("ca.crt", _ca.RootPem)) + "\n---\n" + Rule("SIMPLE", "external-ca"));
        await ExpectAsync(outbound, $"external-tls {Host} sni={Host} client=");

        // MUTUAL: the client certificate of another Secret is presented.
        using var client = _ca.Issue("client.mesh.example", client: true);
        await _api.ApplyAsync(
            Secret("client-credential", ("tls.crt", client.ExportCertificatePem()), ("tls.key", TestCa.KeyPem(client)), ("ca.crt", _ca.RootPem))
            + "\n---\n" + Rule("MUTUAL", "client-credential"));
        await ExpectAsync(outbound, $"external-tls {Host} sni={Host} client=CN=client.mesh.example");
    }

    private static string Rule(string mode, string credential) => $$"""
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: external-api}
        spec:
          host: {{Host}}
          trafficPolicy:
            portLevelSettings:
            - port: {number: 80}
              tls: {mode: {{mode}}, credentialName: {{credential}}}
        """;

    private static string Secret(string name, params (string Key, string Pem)[] data) =>
        $"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\ntype: Opaque\ndata:\n"
        + string.Concat(data.Select(d => $"  {d.Key}: {Convert.ToBase64String(Encoding.UTF8.GetBytes(d.Pem))}\n"));

    /// <summary>Sends requests for the external host through the outbound listener until the answer is <paramref name="body"/>.</summary>
    private async Task ExpectAsync(int outbound, string body)
    {
        var last = "";
        await Eventually.WaitAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{outbound}/");
            request.Headers.Host = Host;
            try
            {
                using var response = await _http.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                last = $"{(int)response.StatusCode} {text}";
                return response.StatusCode == HttpStatusCode.OK && text == body;
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
                return false;
            }
        }, TimeSpan.FromSeconds(20), $"{Host} answered {body} (last: {last})", _up);
    }
}
