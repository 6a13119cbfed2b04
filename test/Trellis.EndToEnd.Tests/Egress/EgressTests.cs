using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests.Egress;

/// <summary>
/// Egress through the real binary: a workload calls hosts outside the mesh ("external" servers on 127.0.0.2) through
/// its outbound listener, under Istio's two outbound traffic policies, with ServiceEntries and a Sidecar changing what
/// it may reach. One ordered scenario: each step applies YAML a user would write and observes the traffic.
/// </summary>
public sealed class EgressTests : IAsyncLifetime
{
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

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-egress-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false, UseCookies = false })) { Timeout = TimeSpan.FromSeconds(10) };
    private TrellisProcess _up = null!;
    private ControlPlaneApi _api = null!;
    private ExternalServer _external = null!;
    private ExternalServer _local = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _external = new ExternalServer("external", IPAddress.Parse("127.0.0.2"));
        _local = new ExternalServer("local", IPAddress.Loopback);
        var api = FreePorts.Next();
        _api = new ControlPlaneApi(_http, $"http://127.0.0.1:{api}", "egress");
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
        await _local.DisposeAsync();
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Egress_ServiceEntriesUnderBothOutboundPolicies_RouteOrRefuse()
    {
        var outbound = await _api.OutboundPortAsync(_up);
        var direct = $"{_external.Address}:{_external.Port}";

        // ALLOW_ANY (Istio's default): a host the mesh does not know is passed through to the address it names.
        await ExpectAsync(outbound, direct, 200, $"external {direct}");

        // A ServiceEntry makes a name the workload uses reachable: port 80 of api.external.test is the external server.
        await _api.ApplyAsync($$"""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: external-api}
            spec:
              hosts: [api.external.test]
              location: MESH_EXTERNAL
              ports: [{number: 80, name: http, protocol: HTTP, targetPort: {{_external.Port}}}]
              resolution: STATIC
              endpoints: [{address: {{_external.Address}}}]
            """);
        await ExpectAsync(outbound, "api.external.test", 200, "external api.external.test");

        // REGISTRY_ONLY in the mesh configuration: unknown hosts get 502 (BlackHoleCluster), registered ones still route.
        await _api.ApplyAsync("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data:
              mesh: |-
                outboundTrafficPolicy:
                  mode: REGISTRY_ONLY
            """);
        await ExpectAsync(outbound, direct, 502, null);
        await ExpectAsync(outbound, "api.external.test", 200, "external api.external.test");

        // resolution NONE: no endpoints, the request goes to the address it names, once the entry admits the host.
        var local = $"localhost:{_local.Port}";
        await ExpectAsync(outbound, local, 502, null);
        await _api.ApplyAsync($$"""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: local}
            spec:
              hosts: [localhost]
              ports: [{number: {{_local.Port}}, name: http, protocol: HTTP}]
              resolution: NONE
            """);
        await ExpectAsync(outbound, local, 200, $"local {local}");

        // A Sidecar limits the workload's view to the istio-system namespace: the entry is out of it, so refused.
        await _api.ApplyAsync("""
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default}
            spec:
              egress: [{hosts: ["istio-system/*"]}]
            """);
        await ExpectAsync(outbound, "api.external.test", 502, null);

        // Back to ALLOW_ANY on the Sidecar itself: outside its view is passed through again.
        await _api.ApplyAsync("""
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default}
            spec:
              egress: [{hosts: ["istio-system/*"]}]
              outboundTrafficPolicy: {mode: ALLOW_ANY}
            """);
        await ExpectAsync(outbound, direct, 200, $"external {direct}");
    }

    /// <summary>Sends requests for <paramref name="host"/> through the outbound listener until the answer is the expected one.</summary>
    private async Task ExpectAsync(int outbound, string host, int status, string? body)
    {
        var last = "";
        await Eventually.WaitAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{outbound}/");
            request.Headers.Host = host;
            try
            {
                using var response = await _http.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                last = $"{(int)response.StatusCode} {text}";
                return (int)response.StatusCode == status && (body is null || text == body);
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
                return false;
            }
        }, TimeSpan.FromSeconds(20), $"{host} answered {status} {body} (last: {last})", _up);
    }
}
