using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests.Tcp;

/// <summary>
/// TCP routing through the real binary: a TCP echo service in two versions (Python processes, a protocol that answers
/// after the client's half-close), reached by a workload through the port its environment announces
/// (<c>ECHO_SERVICE_HOST</c>/<c>ECHO_SERVICE_PORT</c>), with a VirtualService's 80/20 <c>tcp</c> split counted by
/// connection, then through an Istio Gateway's TCP port and a Gateway API TCP listener with a TCPRoute; Istio's TCP
/// metrics at the node proxy.
/// </summary>
public sealed class TcpRoutingTests : IAsyncLifetime
{
    // Answers "VERSION:" and what it read once the client has finished sending, then closes (one connection at a time).
    private const string EchoServer = """
        import os, socket, sys
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(os.environ["PORT"])))
        s.listen(128)
        while True:
            c, _ = s.accept()
            data = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
            c.sendall(sys.argv[1].encode() + b":" + data)
            c.close()
        """;

    private const string Client = """
        import json, os, sys, time
        with open(sys.argv[1] + ".tmp", "w") as f:
            json.dump(dict(os.environ), f)
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        time.sleep(100000)
        """;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-tcp-" + Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false })) { Timeout = TimeSpan.FromSeconds(10) };
    private TrellisProcess _up = null!;
    private ControlPlaneApi _api = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        await File.WriteAllTextAsync(Path.Combine(_dir, "echo.py"), EchoServer);
        await File.WriteAllTextAsync(Path.Combine(_dir, "client.py"), Client);
        var api = FreePorts.Next();
        _api = new ControlPlaneApi(_http, $"http://127.0.0.1:{api}", "tcp");
        _up = TrellisProcess.Start("up", "--data-dir", Path.Combine(_dir, "data"), "--api-address", $"127.0.0.1:{api}",
            "--push-address", $"127.0.0.1:{FreePorts.Next()}", "--pool-size", "0");
        try
        {
            await Eventually.WaitAsync(_api.HealthyAsync, TimeSpan.FromSeconds(60), "the API", _up);
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

    private string Echo(string version) => """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: echo-VERSION}
        spec:
          selector: {matchLabels: {app: echo, version: VERSION}}
          template:
            metadata: {labels: {app: echo, version: VERSION}}
            spec:
              containers:
              - name: echo
                command: ["python3", "SCRIPT", "VERSION"]
                readinessProbe: {tcpSocket: {port: 9000}, periodSeconds: 1}
        """.Replace("VERSION", version, StringComparison.Ordinal).Replace("SCRIPT", Path.Combine(_dir, "echo.py"), StringComparison.Ordinal);

    [Fact]
    public async Task Tcp_WeightedSplitByConnectionAndGatewayPort_RoutedAndCounted()
    {
        var gatewayPort = FreePorts.Next();
        await _api.ApplyAsync("""
            apiVersion: v1
            kind: Service
            metadata: {name: echo}
            spec:
              selector: {app: echo}
              ports: [{name: tcp-echo, port: 9000}]
            ---
            ECHO_V1
            ---
            ECHO_V2
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: echo}
            spec:
              host: echo
              subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: echo}
            spec:
              hosts: [echo]
              tcp:
              - route:
                - {destination: {host: echo, subset: v1}, weight: 80}
                - {destination: {host: echo, subset: v2}, weight: 20}
            ---
            apiVersion: networking.istio.io/v1
            kind: Gateway
            metadata: {name: tcp-gateway}
            spec:
              selector: {istio: ingressgateway}
              servers:
              - port: {number: GATEWAY_PORT, name: tcp, protocol: TCP}
                hosts: ["*"]
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: echo-gateway}
            spec:
              hosts: ["*"]
              gateways: [tcp-gateway]
              tcp:
              - match: [{port: GATEWAY_PORT}]
                route: [{destination: {host: echo, port: {number: 9000}, subset: v2}}]
            """.Replace("ECHO_V1", Echo("v1"), StringComparison.Ordinal).Replace("ECHO_V2", Echo("v2"), StringComparison.Ordinal)
            .Replace("GATEWAY_PORT", gatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        await Eventually.WaitAsync(async () => await ReadyPodsAsync("echo") == 2, TimeSpan.FromSeconds(60), "both echo versions ready", _up);

        // The client starts once the Service exists: as in Kubernetes, its environment names the services of its namespace.
        var envFile = Path.Combine(_dir, "client-env.json");
        await _api.ApplyAsync("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: client}
            spec:
              selector: {matchLabels: {app: client}}
              template:
                metadata: {labels: {app: client}}
                spec:
                  containers:
                  - name: client
                    command: ["python3", "SCRIPT", "ENV_FILE"]
            """.Replace("SCRIPT", Path.Combine(_dir, "client.py"), StringComparison.Ordinal).Replace("ENV_FILE", envFile, StringComparison.Ordinal));
        await Eventually.WaitAsync(() => Task.FromResult(File.Exists(envFile)), TimeSpan.FromSeconds(60), "the client's environment", _up);
        var env = JsonNode.Parse(await File.ReadAllTextAsync(envFile))!.AsObject();
        Assert.Equal("127.0.0.1", (string?)env["ECHO_SERVICE_HOST"]);
        var port = int.Parse((string)env["ECHO_SERVICE_PORT"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal($"tcp://127.0.0.1:{port}", (string?)env["ECHO_PORT_9000_TCP"]);

        // The listener appears once the registry has the client's reserved port and the proxy its snapshot.
        await Eventually.WaitAsync(async () => await TryExchangeAsync(port, "ping") is { } answer && answer.EndsWith(":ping", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "the echo service through the client's TCP port", _up);
        var versions = new List<string>();
        for (var i = 0; i < 100; i++)
        {
            var answer = await TryExchangeAsync(port, $"hello {i}");
            Assert.NotNull(answer);
            Assert.EndsWith($":hello {i}", answer, StringComparison.Ordinal);
            versions.Add(answer![..2]);
        }

        // 80/20 by connection: binomial(100, 0.8) is within 65..95 but for one run in ten thousand.
        var v1 = versions.Count(v => v == "v1");
        Assert.InRange(v1, 65, 95);
        Assert.Equal(100 - v1, versions.Count(v => v == "v2"));

        // The gateway's TCP port relays to v2 only.
        await Eventually.WaitAsync(async () => await TryExchangeAsync(gatewayPort, "gw") == "v2:gw", TimeSpan.FromSeconds(30), "the gateway's TCP port", _up);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal($"v2:gw{i}", await TryExchangeAsync(gatewayPort, $"gw{i}"));
        }

        // A Gateway API Gateway's TCP listener relays by its TCPRoute (to either version: the Service has no subsets).
        var apiPort = FreePorts.Next();
        await _api.ApplyAsync("""
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: tcp-api}
            spec:
              gatewayClassName: trellis
              listeners: [{name: echo, port: API_PORT, protocol: TCP}]
            ---
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TCPRoute
            metadata: {name: echo}
            spec:
              parentRefs: [{name: tcp-api, sectionName: echo}]
              rules:
              - backendRefs: [{name: echo, port: 9000}]
            """.Replace("API_PORT", apiPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        string? address = null;
        await Eventually.WaitAsync(async () =>
        {
            var gateway = await _api.TryGetAsync("/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/tcp-api");
            address = (string?)gateway?["status"]?["addresses"]?[0]?["value"];
            var route = await _api.TryGetAsync("/apis/gateway.networking.k8s.io/v1alpha2/namespaces/default/tcproutes/echo");
            var accepted = (route?["status"]?["parents"]?[0]?["conditions"] as JsonArray ?? []).Any(c => (string?)c?["type"] == "Accepted" && (string?)c?["status"] == "True");
            return address is not null && accepted && (await TryExchangeAsync(IPAddress.Parse(address), apiPort, "api"))?.EndsWith(":api", StringComparison.Ordinal) == true;
        }, TimeSpan.FromSeconds(30), "the Gateway API TCP listener", _up);

        // Istio's TCP metrics at the node proxy: the client's connections by destination version, reporter source.
        var metrics = await NodeMetricsAsync();
        var opened = metrics.Split('\n').Where(l => l.StartsWith("istio_tcp_connections_opened_total{reporter=\"source\",source_workload=\"client\"", StringComparison.Ordinal)).ToList();
        long Count(string version) => opened.Where(l => l.Contains($"destination_version=\"{version}\"", StringComparison.Ordinal))
            .Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        // The 100 counted, and the first ping that found the listener, to either version.
        Assert.Equal(101, Count("v1") + Count("v2"));
        Assert.InRange(Count("v1"), v1, v1 + 1);
        // trellis up is STRICT mesh-wide: every TCP hop into the echo instances was mesh mTLS, terminated by their relays.
        var inbound = metrics.Split('\n').Where(l => l.StartsWith("istio_tcp_received_bytes_total{reporter=\"destination\"", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(inbound);
        Assert.All(inbound, l => Assert.Contains("connection_security_policy=\"mutual_tls\"", l, StringComparison.Ordinal));

        // Mesh (GAMMA): a TCPRoute whose parent is the Service takes its port in place of the VirtualService: v2 only.
        await _api.ApplyAsync("""
            apiVersion: v1
            kind: Service
            metadata: {name: echo-v2}
            spec:
              selector: {app: echo, version: v2}
              ports: [{name: tcp-echo, port: 9000}]
            ---
            apiVersion: gateway.networking.k8s.io/v1alpha2
            kind: TCPRoute
            metadata: {name: echo-mesh}
            spec:
              parentRefs: [{group: "", kind: Service, name: echo, port: 9000}]
              rules:
              - backendRefs: [{name: echo-v2, port: 9000}]
            """);
        await Eventually.WaitAsync(async () =>
        {
            for (var i = 0; i < 10; i++)
            {
                if (await TryExchangeAsync(port, "mesh") != "v2:mesh")
                {
                    return false;
                }
            }

            return true;
        }, TimeSpan.FromSeconds(30), "the GAMMA TCPRoute's backend only", _up);
    }

    private async Task<int> ReadyPodsAsync(string app)
    {
        var pods = await _api.TryGetAsync("/api/v1/namespaces/default/pods");
        return (pods?["items"] as JsonArray ?? []).Count(p => (string?)p?["metadata"]?["labels"]?["app"] == app && (bool?)p?["status"]?["ready"] == true);
    }

    private async Task<string> NodeMetricsAsync()
    {
        var proxies = JsonNode.Parse(await _http.GetStringAsync($"{_api.Server}/debug/proxies"))!.AsArray();
        var admin = proxies.Select(p => (string?)p?["adminUrl"]).First(u => u is not null && proxies.Any(p => ((string?)p?["name"])?.StartsWith("node/", StringComparison.Ordinal) == true && (string?)p?["adminUrl"] == u));
        return await _http.GetStringAsync(admin!.TrimEnd('/') + "/stats/prometheus");
    }

    /// <summary>Sends, half-closes and reads the answer; null when the connection fails or is closed with nothing.</summary>
    private static Task<string?> TryExchangeAsync(int port, string request) => TryExchangeAsync(IPAddress.Loopback, port, request);

    private static async Task<string?> TryExchangeAsync(IPAddress address, int port, string request)
    {
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await socket.ConnectAsync(new IPEndPoint(address, port), limit.Token);
            await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None, limit.Token);
            socket.Shutdown(SocketShutdown.Send);
            var all = new MemoryStream();
            var buffer = new byte[4096];
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token)) > 0)
            {
                all.Write(buffer, 0, read);
            }

            return all.Length == 0 ? null : Encoding.ASCII.GetString(all.ToArray());
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return null;
        }
    }
}
