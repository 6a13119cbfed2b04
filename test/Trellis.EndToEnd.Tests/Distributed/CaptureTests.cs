using System.Diagnostics;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Trellis.EndToEnd.Tests.Distributed;

/// <summary>
/// Transparent capture (<c>trellis agent --capture</c>) on separate network stacks: a control plane in one namespace, an
/// agent with capture in another. Clients that ignore <c>HTTP_PROXY</c> (curl <c>--noproxy '*'</c>, Python's
/// http.client) run in the agent's namespace, as its workloads do, and call a service by its name resolved to a
/// ClusterIP-like address (10.96.0.10, which nothing serves: only the capture can answer). Every namespace, rule and
/// process is removed at the end (NetworkHosts), also when a check fails.
/// </summary>
public sealed class CaptureTests(ITestOutputHelper output) : IDisposable
{
    private const string ControlPlane = "10.213.0.21";
    private const string Node = "10.213.0.31";
    private const string ClusterIp = "10.96.0.10";
    private static readonly string JoinToken = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
    private static readonly string AdminToken = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-capture-" + Guid.NewGuid().ToString("N"));

    private static string Mesh => $"""
        apiVersion: v1
        kind: Service
        metadata:
          name: echo
        spec:
          selector:
            app: echo
          ports:
          - name: http
            port: 80
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: echo
        spec:
          replicas: 1
          selector:
            matchLabels:
              app: echo
          template:
            metadata:
              labels:
                app: echo
            spec:
              containers:
              - name: echo
                command: ["dotnet", "{Path.Combine(TrellisBinary.RepoRoot, "samples", "echo", "bin", "echo.dll")}"]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: echo
        spec:
          hosts:
          - echo
          http:
          - match:
            - uri:
                prefix: /fault
            fault:
              abort:
                httpStatus: 418
                percentage:
                  value: 100
            route:
            - destination:
                host: echo
          - headers:
              request:
                set:
                  x-mesh-captured: "yes"
            route:
            - destination:
                host: echo
        """;

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task AgentCapture_ClientsIgnoringHttpProxy_AreRoutedByTheMesh_AndRulesLeaveWithTheAgent()
    {
        NetworkHosts.RequireTools();
        Assert.True(File.Exists("/usr/sbin/nft"), "nft is needed: ./scripts/test installs nftables");
        var dll = TrellisBinary.Dll;
        Directory.CreateDirectory(_dir);
        await using var hosts = new NetworkHosts();
        await hosts.CreateHubAsync();
        var cp = await hosts.AddHostAsync("cp", 21);
        var node = await hosts.AddHostAsync("a", 31);
        // Any host has a route for addresses beyond its subnet (a default route); this one gets one for the service range.
        Assert.Equal(0, (await NetworkHosts.RunAsync(node, TimeSpan.FromSeconds(10), "ip", "route", "add", "10.96.0.0/12", "dev", "eth0")).Exit);

        var tokens = Path.Combine(_dir, "tokens.csv");
        await File.WriteAllTextAsync(tokens, $"{AdminToken},operator,admin\n");
        hosts.Start(cp, "dotnet", dll, "controlplane", "--data-dir", Path.Combine(_dir, "cp"), "--api-address", $"{ControlPlane}:15000",
            "--push-address", $"{ControlPlane}:15010", "--join-token", JoinToken, "--token-auth-file", tokens);
        var agent = hosts.Start(node, "dotnet", dll, "agent", "--node", "a31", "--address", Node, "--server", $"http://{ControlPlane}:15000",
            "--push", $"http://{ControlPlane}:15010", "--token", JoinToken, "--data-dir", Path.Combine(_dir, "a31"), "--pool-size", "0", "--capture");
        await Until(async () => (await Cli(cp, dll, "get", "nodes")).Output.Contains("Ready", StringComparison.Ordinal), 90, () => "the node registered\n" + hosts.OutputOf(node));
        Assert.Contains("trellis_capture", (await NetworkHosts.RunAsync(node, TimeSpan.FromSeconds(10), "nft", "list", "tables")).Output, StringComparison.Ordinal);

        var file = Path.Combine(_dir, "mesh.yaml");
        await File.WriteAllTextAsync(file, Mesh);
        var applied = await Cli(cp, dll, "apply", "-f", file);
        Assert.True(applied.Exit == 0, applied.Output);

        // 1. curl ignoring every proxy setting, to the service's name (resolved as a cluster DNS would): routed by the
        // VirtualService (its header rule reached the echo), which nothing at 10.96.0.10 could have done.
        JsonNode? echoed = null;
        await Until(async () =>
        {
            var (status, body) = await CurlIn(node, "--resolve", $"echo:80:{ClusterIp}", "http://echo/hello");
            echoed = status == 200 ? JsonNode.Parse(body) : null;
            return echoed is not null;
        }, 120, () => "echo answering through the capture\n" + hosts.OutputOf(node) + hosts.OutputOf(cp));
        Assert.Equal("/hello", (string?)echoed!["path"]);
        Assert.Equal("yes", (string?)echoed["headers"]!["X-Mesh-Captured"]![0]);

        // 2. The VirtualService's fault applies to captured traffic too.
        Assert.Equal(418, (await CurlIn(node, "--resolve", $"echo:80:{ClusterIp}", "http://echo/fault")).Status);

        // 3. Python's http.client, to the ClusterIP-like address with the service's name as Host.
        var python = await NetworkHosts.RunAsync(node, TimeSpan.FromSeconds(20), "python3", "-c",
            $"import http.client, json; c = http.client.HTTPConnection('{ClusterIp}', 80, timeout=10); c.request('GET', '/py', headers={{'Host': 'echo'}}); " +
            "r = c.getresponse(); b = json.loads(r.read()); print(r.status, b['path'], b['headers'].get('X-Mesh-Captured'))");
        Assert.True(python.Output.Trim() == "200 /py ['yes']", python.Output);

        // 4. The node proxy counted them as mesh traffic (Istio's metric): the two echoed requests for the service, and the
        // injected fault (flag FI).
        var metrics = (await Curl(cp, $"http://{Node}:{await AgentPortAsync(cp)}/stats/prometheus")).Body.Split('\n')
            .Where(l => l.StartsWith("istio_requests_total{reporter=\"source\"", StringComparison.Ordinal)).ToList();
        Assert.True(metrics.Any(l => l.Contains("destination_service=\"echo.default.svc.cluster.local\"", StringComparison.Ordinal)
            && l.Contains("response_code=\"200\"", StringComparison.Ordinal) && l.EndsWith(" 2", StringComparison.Ordinal)), string.Join('\n', metrics));
        Assert.True(metrics.Any(l => l.Contains("response_code=\"418\"", StringComparison.Ordinal) && l.Contains("response_flags=\"FI\"", StringComparison.Ordinal)), string.Join('\n', metrics));

        // 5. Inbound: from another host straight to the workload's own port (it listens on loopback only, so only the
        // redirect to its inbound listener can answer), counted by the inbound side.
        var app = await AppPortAsync(cp);
        var inbound = await Curl(cp, $"http://{Node}:{app}/inbound");
        Assert.True(inbound.Status == 200, $"inbound to the workload port {app}: {inbound.Status} {inbound.Body}");
        var inboundMetrics = (await Curl(cp, $"http://{Node}:{await AgentPortAsync(cp)}/stats/prometheus")).Body.Split('\n');
        // Two came from the capture's outbound side, through the inbound listener; this is the third.
        Assert.Contains(inboundMetrics, l => l.StartsWith("istio_requests_total{reporter=\"destination\"", StringComparison.Ordinal)
            && l.Contains("response_code=\"200\"", StringComparison.Ordinal) && l.EndsWith(" 3", StringComparison.Ordinal));

        // 6. Not HTTP, and server-first: relayed to where the client was going (after the protocol detection timeout).
        hosts.Start(cp, "python3", "-c",
            $"import socket\ns = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('{ControlPlane}', 7000)); s.listen()\n" +
            "while True:\n    c, a = s.accept(); c.sendall(b'greetings\\n'); c.close()");
        await Until(async () => (await NetworkHosts.RunAsync(node, TimeSpan.FromSeconds(20), "python3", "-c",
            $"import socket; c = socket.create_connection(('{ControlPlane}', 7000), timeout=5); print(c.recv(64).decode().strip())")).Output.Trim() == "greetings", 20, "a server-first TCP service through the capture");

        // 7. A graceful stop removes the rules.
        Assert.Equal(0, (await NetworkHosts.RunAsync(node, TimeSpan.FromSeconds(10), "kill", "-TERM", agent.Id.ToString(System.Globalization.CultureInfo.InvariantCulture))).Exit);
        using (var exited = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await agent.WaitForExitAsync(exited.Token);
        }

        var tables = await NetworkHosts.RunAsync(node, TimeSpan.FromSeconds(10), "nft", "list", "tables");
        Assert.DoesNotContain("trellis_capture", tables.Output, StringComparison.Ordinal);
        output.WriteLine(hosts.OutputOf(node));
    }

    [Fact]
    public async Task AgentCapture_StartFailsAfterTheRulesWereInstalled_LeavesNoRules()
    {
        NetworkHosts.RequireTools();
        var dll = TrellisBinary.Dll;
        await using var hosts = new NetworkHosts();
        await hosts.CreateHubAsync();
        var node = await hosts.AddHostAsync("a", 31);

        // 10.213.0.99 is not this host's address: the agent's server cannot bind it, after the rules went in.
        var (exit, text) = await NetworkHosts.RunAsync(node, TimeSpan.FromSeconds(60), "dotnet", dll, "agent", "--node", "a31", "--address", "10.213.0.99",
            "--server", $"http://{ControlPlane}:15000", "--push", $"http://{ControlPlane}:15010", "--token", JoinToken, "--data-dir", Path.Combine(_dir, "a31"),
            "--pool-size", "0", "--capture");

        Assert.True(exit != 0, text);
        Assert.Contains("Capturing the node's TCP", text, StringComparison.Ordinal);
        Assert.DoesNotContain("trellis_capture", (await NetworkHosts.RunAsync(node, TimeSpan.FromSeconds(10), "nft", "list", "tables")).Output, StringComparison.Ordinal);
    }

    /// <summary>The agent's own server (the node proxy's admin), as its push stream announced it.</summary>
    private static async Task<int> AgentPortAsync(string cp)
    {
        var (_, body) = await Curl(cp, $"http://{ControlPlane}:15000/debug/proxies");
        var url = (string)JsonNode.Parse(body)!.AsArray().Single(p => (string?)p!["name"] == "node/a31")!["adminUrl"]!;
        return new Uri(url).Port;
    }

    private static async Task<int> AppPortAsync(string cp)
    {
        var (_, body) = await Curl(cp, $"http://{ControlPlane}:15000/api/v1/pods");
        return (int)JsonNode.Parse(body)!["items"]![0]!["status"]!["ports"]!["app"]!;
    }

    private static Task<(int Status, string Body)> CurlIn(string ns, params string[] args) => CurlAsync(ns, args);

    private static Task<(int Status, string Body)> Curl(string ns, string url) =>
        CurlAsync(ns, ["-H", url.Contains(":15000/", StringComparison.Ordinal) ? "Authorization: Bearer " + AdminToken : "X-No-Credential: 1", url]);

    private static async Task<(int Status, string Body)> CurlAsync(string ns, string[] args)
    {
        var (exit, text) = await NetworkHosts.RunAsync(ns, TimeSpan.FromSeconds(15), "curl", ["-s", "--noproxy", "*", "--max-time", "10", "-w", "\n%{http_code}", .. args]);
        var cut = text.LastIndexOf('\n');
        return exit != 0 || cut < 0 || !int.TryParse(text[(cut + 1)..].Trim(), out var status) ? (0, text) : (status, text[..cut]);
    }

    private static Task<(int Exit, string Output)> Cli(string ns, string dll, params string[] args) =>
        NetworkHosts.RunAsync(ns, TimeSpan.FromSeconds(60), "dotnet", [dll, .. args, "--server", $"http://{ControlPlane}:15000", "--token", AdminToken]);

    private static Task Until(Func<Task<bool>> condition, int seconds, string what) => Until(condition, seconds, () => what);

    /// <summary>Polls until <paramref name="condition"/> holds; <paramref name="what"/> is asked for only on failure (so it can include the output so far).</summary>
    private static async Task Until(Func<Task<bool>> condition, int seconds, Func<string> what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(seconds), $"timed out waiting for {what()}");
            await Task.Delay(200);
        }
    }
}
