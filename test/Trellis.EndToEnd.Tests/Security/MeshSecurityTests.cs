using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests.Security;

/// <summary>
/// mTLS and authorization through the real binary (<c>trellis up</c>): two caller workloads with their own service
/// accounts call a target through their outbound listeners (the test speaks for the callers' applications), and a
/// cleartext caller reaches the target's inbound port directly, as a process outside the mesh would. One ordered
/// scenario: <c>trellis up</c>'s mesh-wide STRICT refuses the cleartext caller; PERMISSIVE in the namespace accepts both; STRICT refuses the cleartext caller while proxies keep talking
/// mTLS, the ingress gateway (it holds Istio's ingress gateway identity) and a Broker's delivery (the control plane's
/// own identity) included; an AuthorizationPolicy by principal
/// allows one service account and denies the other, and the gateway only once its principal is allowed; then a root
/// rotation under steady load (certificates live 30 s, so each is also renewed several times) fails no request.
/// </summary>
public sealed class MeshSecurityTests : IAsyncLifetime
{
    private const string Mesh = """
        apiVersion: v1
        kind: Service
        metadata: {name: target}
        spec:
          selector: {app: target}
          ports: [{name: http, port: 80}]
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: target}
        spec:
          selector: {matchLabels: {app: target}}
          template:
            metadata: {labels: {app: target}}
            spec:
              serviceAccountName: target
              containers: [{name: echo, command: ["dotnet", "ECHO_DLL", "--log-requests=1"]}]
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: caller-a}
        spec:
          selector: {matchLabels: {app: caller-a}}
          template:
            metadata: {labels: {app: caller-a}}
            spec:
              serviceAccountName: caller-a
              containers: [{name: echo, command: ["dotnet", "ECHO_DLL"]}]
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: caller-b}
        spec:
          selector: {matchLabels: {app: caller-b}}
          template:
            metadata: {labels: {app: caller-b}}
            spec:
              serviceAccountName: caller-b
              containers: [{name: echo, command: ["dotnet", "ECHO_DLL"]}]
        ---
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: ingress}
        spec:
          selector: {istio: ingressgateway}
          servers: [{port: {number: GATEWAY_PORT, name: http, protocol: HTTP}, hosts: ["*"]}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: target}
        spec:
          hosts: ["*"]
          gateways: [ingress]
          http: [{route: [{destination: {host: target}}]}]
        """;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-security-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false, UseCookies = false, PooledConnectionLifetime = TimeSpan.Zero })) { Timeout = TimeSpan.FromSeconds(10) };
    private TrellisProcess _up = null!;
    private string _server = "";
    private int _gateway;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        var api = FreePorts.Next();
        _server = $"http://127.0.0.1:{api}";
        _up = TrellisProcess.Start("up", "--data-dir", Path.Combine(_dir, "data"), "--api-address", $"127.0.0.1:{api}",
            "--push-address", $"127.0.0.1:{FreePorts.Next()}", "--pool-size", "0", "--broker-address", $"127.0.0.1:{FreePorts.Next()}",
            "--cert-lifetime", "30", // every certificate is renewed every 15 s during the scenario
            "--mesh-mtls", "STRICT");
        try
        {
            await Eventually.WaitAsync(HealthyAsync, TimeSpan.FromSeconds(60), "the API", _up);
            _gateway = FreePorts.Next();
            await ApplyAsync(Mesh
                .Replace("ECHO_DLL", Path.Combine(TrellisBinary.RepoRoot, "samples", "echo", "bin", "echo.dll"), StringComparison.Ordinal)
                .Replace("GATEWAY_PORT", _gateway.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
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
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task PeerAuthenticationAuthorizationAndRootRotation_AsIstio_NoRequestFailsDuringRotation()
    {
        var a = await PortAsync("caller-a", "outbound");
        var b = await PortAsync("caller-b", "outbound");
        var inbound = await PortAsync("target", "inbound");

        // `trellis up --mesh-mtls STRICT` starts STRICT mesh-wide, as Linkerd, by writing Istio's mesh-wide policy on the first start: callers
        // reach the target over mTLS (their proxies hold certificates), a cleartext client outside the mesh is refused.
        var meshWide = await TryGetAsync("/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications/default");
        Assert.Equal("STRICT", (string?)meshWide?["spec"]?["mtls"]?["mode"]);
        await ExpectAsync(a, 200);
        await ExpectAsync(b, 200);
        await ExpectDirectAsync(inbound, accepted: false);

        // PERMISSIVE in the namespace overrides the mesh-wide policy: the cleartext client is accepted on the same port.
        await ApplyAsync("""
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: default}
            spec: {mtls: {mode: PERMISSIVE}}
            """);
        await ExpectDirectAsync(inbound, accepted: true);
        await ExpectAsync(a, 200);

        // STRICT in the namespace: the cleartext client is refused, the callers' mTLS goes on.
        await ApplyAsync("""
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: default}
            spec: {mtls: {mode: STRICT}}
            """);
        await ExpectDirectAsync(inbound, accepted: false);
        await ExpectAsync(a, 200);
        Assert.Contains("mTLS is STRICT", _up.Output, StringComparison.Ordinal); // the refusal is logged

        // The ingress gateway holds its own identity (Istio's ingress gateway account), so STRICT accepts it too.
        await ExpectAsync(_gateway, 200);

        // A Broker delivering to the Service reaches its instance's inbound listener over mTLS, as Knative's broker filter
        // account, so STRICT accepts it too.
        await ApplyAsync("""
            apiVersion: eventing.knative.dev/v1
            kind: Broker
            metadata: {name: default}
            ---
            apiVersion: eventing.knative.dev/v1
            kind: Trigger
            metadata: {name: to-target}
            spec:
              broker: default
              subscriber: {ref: {apiVersion: v1, kind: Service, name: target}, uri: /from-broker}
            """);
        await DeliverThroughBrokerAsync("/from-broker");

        // Only caller-a's service account may call the target.
        await ApplyAsync("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: target-callers, namespace: default}
            spec:
              selector: {matchLabels: {app: target}}
              action: ALLOW
              rules:
              - from: [{source: {principals: ["cluster.local/ns/default/sa/caller-a"]}}]
            """);
        await ExpectAsync(b, 403, "RBAC: access denied");
        await ExpectAsync(a, 200);
        await ExpectAsync(_gateway, 403, "RBAC: access denied");

        // ... and the gateway, by the principal Istio gives it.
        await ApplyAsync("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: target-from-ingress, namespace: default}
            spec:
              selector: {matchLabels: {app: target}}
              action: ALLOW
              rules:
              - from: [{source: {principals: ["cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"]}}]
            """);
        await ExpectAsync(_gateway, 200);
        await ExpectAsync(b, 403, "RBAC: access denied");

        // PERMISSIVE again: the cleartext client is accepted, but it has no principal, so the policy refuses it.
        await ApplyAsync("""
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: default}
            spec: {mtls: {mode: PERMISSIVE}}
            """);
        await Eventually.WaitAsync(async () => (await DirectAsync(inbound)) == HttpStatusCode.Forbidden, TimeSpan.FromSeconds(20), "cleartext accepted and refused by the policy", _up);

        await RotateRootUnderLoadAsync(a);
    }

    /// <summary>
    /// <c>trellis ca rotate</c> while caller-a and the gateway call the target over mTLS without pause: every
    /// certificate moves to the new root, the old root is dropped, and not one request fails on the way.
    /// </summary>
    private async Task RotateRootUnderLoadAsync(int caller)
    {
        var before = await CaStatusAsync();
        var oldRoot = (string)before["roots"]!.AsArray().Single()!["fingerprint"]!;
        using var stop = new CancellationTokenSource();
        var load = new[] { SteadyLoadAsync(caller, stop.Token), SteadyLoadAsync(_gateway, stop.Token) };

        var rotated = await TrellisProcess.RunAsync(_server, "ca", "rotate");
        Assert.True(rotated.Exit == 0, rotated.Stderr);
        Assert.Contains("Root rotation under way", rotated.Stdout, StringComparison.Ordinal);

        // Agents see the new signing root within a bundle interval and renew at once; the old root goes once the CA has
        // seen no certificate of it in use (and has run a whole lifetime, 30 s here).
        await Eventually.WaitAsync(async () =>
        {
            var status = await CaStatusAsync();
            var roots = status["roots"]!.AsArray();
            return roots.Count == 1 && (string?)roots[0]!["fingerprint"] != oldRoot
                && status["workloads"]!.AsArray().All(w => (string?)w!["rootFingerprint"] == (string?)roots[0]!["fingerprint"]);
        }, TimeSpan.FromSeconds(90), "the old root dropped, every certificate from the new one", _up);
        await Task.Delay(TimeSpan.FromSeconds(2)); // a little steady load on the new root alone
        await stop.CancelAsync();
        var results = await Task.WhenAll(load);
        Assert.All(results, r => Assert.True(r.Failed == 0 && r.Sent > 10, $"{r.Failed} of {r.Sent} requests failed during the rotation: {r.FirstFailure}"));
    }

    private async Task<(int Sent, int Failed, string? FirstFailure)> SteadyLoadAsync(int outbound, CancellationToken stop)
    {
        var (sent, failed, first) = (0, 0, (string?)null);
        while (!stop.IsCancellationRequested)
        {
            sent++;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{outbound}/hello");
                request.Headers.Host = "target";
                using var response = await _http.SendAsync(request, CancellationToken.None);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    failed++;
                    first ??= $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(CancellationToken.None)}";
                }
            }
            catch (HttpRequestException e)
            {
                failed++;
                first ??= e.Message;
            }
        }

        return (sent, failed, first);
    }

    private async Task<JsonObject> CaStatusAsync() => (await TryGetAsync("/ca/v1/status"))?.AsObject() ?? throw new InvalidOperationException("no CA status");

    /// <summary>Once the Trigger is ready, posts an event to the Broker and waits for the target's request log to show its delivery.</summary>
    private async Task DeliverThroughBrokerAsync(string path)
    {
        string? broker = null;
        await Eventually.WaitAsync(async () =>
        {
            var trigger = await TryGetAsync("/apis/eventing.knative.dev/v1/namespaces/default/triggers/to-target");
            broker = (string?)(await TryGetAsync("/apis/eventing.knative.dev/v1/namespaces/default/brokers/default"))?["status"]?["address"]?["url"];
            return broker is not null && (trigger?["status"]?["conditions"] as JsonArray ?? []).Any(c => (string?)c?["type"] == "Ready" && (string?)c?["status"] == "True");
        }, TimeSpan.FromSeconds(60), "the Trigger ready", _up);

        using var request = new HttpRequestMessage(HttpMethod.Post, broker) { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        request.Headers.Add("ce-specversion", "1.0");
        request.Headers.Add("ce-id", "strict-1");
        request.Headers.Add("ce-source", "/mesh-security");
        request.Headers.Add("ce-type", "dev.trellis.test");
        using var accepted = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        await Eventually.WaitAsync(async () =>
        {
            var logs = await TrellisProcess.RunAsync(_server, "logs", "target");
            return logs.Exit == 0 && logs.Stdout.Split('\n').Any(l => l.StartsWith($"echo POST {path} ", StringComparison.Ordinal));
        }, TimeSpan.FromSeconds(30), "the Broker's delivery in the target's log", _up);
    }

    /// <summary>Waits until a call through <paramref name="outbound"/> (a caller's outbound listener or the gateway) to the target answers <paramref name="status"/>.</summary>
    private Task ExpectAsync(int outbound, int status, string? body = null) => Eventually.WaitAsync(async () =>
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{outbound}/hello");
            request.Headers.Host = "target";
            using var response = await _http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return (int)response.StatusCode == status && (body is null || text == body);
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }, TimeSpan.FromSeconds(30), $"{status} through outbound port {outbound}", _up);

    private Task ExpectDirectAsync(int inbound, bool accepted) => Eventually.WaitAsync(
        async () => (await DirectAsync(inbound) is not null) == accepted, TimeSpan.FromSeconds(20), accepted ? "cleartext accepted" : "cleartext refused", _up);

    /// <summary>A cleartext request straight to the target's inbound listener: its status, or null when the connection was refused.</summary>
    private async Task<HttpStatusCode?> DirectAsync(int inbound)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{inbound}/hello");
            request.Headers.Host = "target";
            using var response = await _http.SendAsync(request);
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private async Task<int> PortAsync(string app, string name)
    {
        var port = 0;
        await Eventually.WaitAsync(async () =>
        {
            var pods = await TryGetAsync("/api/v1/namespaces/default/pods");
            var pod = (pods?["items"] as JsonArray ?? []).FirstOrDefault(p => (bool?)p?["status"]?["ready"] == true && (string?)p?["metadata"]?["labels"]?["app"] == app);
            port = (int?)pod?["status"]?["ports"]?[name] ?? 0;
            return port != 0;
        }, TimeSpan.FromSeconds(60), $"a ready {app}", _up);
        return port;
    }

    private async Task ApplyAsync(string yaml)
    {
        using var response = await _http.PostAsync($"{_server}/apply?source=security", new StringContent(yaml, Encoding.UTF8, "application/yaml"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"apply failed: {(int)response.StatusCode} {body}");
    }

    private async Task<bool> HealthyAsync()
    {
        try
        {
            using var response = await _http.GetAsync(_server + "/healthz");
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private async Task<JsonNode?> TryGetAsync(string path)
    {
        try
        {
            return JsonNode.Parse(await _http.GetStringAsync(_server + path));
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }
}
