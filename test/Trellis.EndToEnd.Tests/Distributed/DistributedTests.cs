using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Trellis.EndToEnd.Tests.Distributed;

/// <summary>
/// The distributed mode on separate network stacks: 3 etcd members, 2 control-plane replicas, 3
/// agents and a client with the ingress gateway, each in its own network namespace, running
/// bookinfo; then the failures of issue 15, each measured. Every namespace, link and process is
/// removed at the end (NetworkHosts), also when a check fails.
/// </summary>
public sealed class DistributedTests(ITestOutputHelper output) : IDisposable
{
    private const int NodeTtlSeconds = 4;
    private static readonly string[] Etcd = ["11", "12", "13"];
    private static readonly string[] ControlPlanes = ["21", "22"];
    private static readonly string[] Agents = ["31", "32", "33"];
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-dist-" + Guid.NewGuid().ToString("N"));

    private static string Ip(string last) => $"{NetworkHosts.Subnet}.{last}";

    // The credentials an operator hands out: every replica gets the same CA, join token and static API tokens.
    private static readonly string JoinToken = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
    private static readonly string AdminToken = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
    private static readonly string ProxyToken = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));

    private static string Servers => string.Join(",", ControlPlanes.Select(c => $"http://{Ip(c)}:15000"));

    private static string Pushes => string.Join(",", ControlPlanes.Select(c => $"http://{Ip(c)}:15010"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task Bookinfo_AcrossHosts_SurvivesLeaderEtcdMemberAndAgentFailures()
    {
        NetworkHosts.RequireTools();
        Assert.True(File.Exists("/usr/bin/etcd"), "etcd is needed: ./scripts/test installs etcd-server");
        var dll = TrellisBinary.Dll;
        await using var hosts = new NetworkHosts();
        await hosts.CreateHubAsync();
        var ns = new Dictionary<string, string>();
        foreach (var last in Etcd.Concat(ControlPlanes).Concat(Agents).Append("5"))
        {
            ns[last] = await hosts.AddHostAsync("h" + last, int.Parse(last, CultureInfo.InvariantCulture));
        }

        var client = ns["5"];
        var cluster = string.Join(",", Etcd.Select(e => $"m{e}=http://{Ip(e)}:2380"));
        foreach (var e in Etcd)
        {
            hosts.Start(ns[e], "/usr/bin/etcd", "--name", $"m{e}", "--data-dir", Path.Combine(_dir, "etcd" + e),
                "--listen-client-urls", $"http://{Ip(e)}:2379", "--advertise-client-urls", $"http://{Ip(e)}:2379",
                "--listen-peer-urls", $"http://{Ip(e)}:2380", "--initial-advertise-peer-urls", $"http://{Ip(e)}:2380",
                "--initial-cluster", cluster, "--initial-cluster-state", "new", "--logger", "zap", "--log-level", "error");
        }

        foreach (var e in Etcd)
        {
            await Until(async () => (await Curl(client, $"http://{Ip(e)}:2379/health")).Body.Contains("\"health\":\"true\"", StringComparison.Ordinal), 60, "etcd " + e);
        }

        var store = "etcd://" + string.Join(",", Etcd.Select(e => $"{Ip(e)}:2379"));
        var caDir = PluggedInCa(Path.Combine(_dir, "cacerts"));
        var tokens = Path.Combine(_dir, "tokens.csv");
        await File.WriteAllTextAsync(tokens, $"{AdminToken},operator,admin\n{ProxyToken},gateway/client,proxy\n");
        foreach (var c in ControlPlanes)
        {
            hosts.Start(ns[c], "dotnet", dll, "controlplane", "--store", store, "--name", "cp" + c, "--data-dir", Path.Combine(_dir, "cp" + c),
                "--api-address", $"{Ip(c)}:15000", "--push-address", $"{Ip(c)}:15010", "--node-ttl", NodeTtlSeconds.ToString(CultureInfo.InvariantCulture),
                "--ca-dir", caDir, "--join-token", JoinToken, "--token-auth-file", tokens);
        }

        foreach (var a in Agents)
        {
            StartAgent(hosts, ns[a], a, dll);
        }

        hosts.Start(client, "dotnet", dll, "proxy", "--name", "gateway/client", "--push", Pushes, "--server", Servers, "--token", ProxyToken);
        await Until(async () => (await Cli(client, dll, "get", "nodes")).Output.Split('\n').Count(l => l.Contains("Ready", StringComparison.Ordinal)) == 3, 90, "three nodes registered");
        var applied = await Cli(client, dll, "apply", "-f", "samples/bookinfo/bookinfo.yaml", "-f", "samples/bookinfo/gateway.yaml");
        Assert.True(applied.Exit == 0, applied.Output);

        // 1. Traffic flows across nodes: the gateway's host, productpage's, reviews' and ratings' are different network stacks.
        var clock = Stopwatch.StartNew();
        await Until(async () => await PageOk(client), 180, "bookinfo answering through the gateway\n" + hosts.OutputOf(ns["31"]));
        Report($"bookinfo answered through the gateway {clock.Elapsed.TotalSeconds:F1} s after apply");
        var pods = await Pods(client);
        Assert.True(pods.Select(p => p.Node).Distinct().Count() >= 2, "pods on one node only: " + string.Join(", ", pods));
        Assert.All(pods, p => Assert.StartsWith(NetworkHosts.Subnet + ".", p.Ip, StringComparison.Ordinal));
        var wide = await Cli(client, dll, "get", "pods", "-o", "wide");
        Report("trellis get pods -o wide:\n" + wide.Output);

        // 2. Killing the leader control plane: another leads within 5 s, and no request fails meanwhile.
        var leader = await LeaderAsync(client);
        var survivor = ControlPlanes.Single(c => c != leader);
        await using (var traffic = new TrafficLoop(() => PageOk(client)))
        {
            await Task.Delay(1000);
            clock.Restart();
            await NetworkHosts.KillHostAsync(ns[leader]);
            await Until(async () => (await Curl(client, $"http://{Ip(survivor)}:15000/debug/leader")).Body.Contains("\"isLeader\":true", StringComparison.Ordinal), 10, "a new leader");
            var failover = clock.Elapsed;
            Report($"leader control plane SIGKILLed: cp{survivor} leads after {failover.TotalSeconds:F2} s");
            Assert.True(failover < TimeSpan.FromSeconds(5), $"leadership took {failover}");
            var change = await Cli(client, dll, "apply", "-f", TrellisBinary.Conformance("istio-bookinfo/networking/destination-rule-all.yaml"));
            Assert.True(change.Exit == 0, "apply through the surviving replica: " + change.Output);
            await Task.Delay(3000);
            var (ok, failed) = await traffic.StopAsync();
            Report($"requests through the gateway during the leader's death: {ok} ok, {failed} failed");
            Assert.Equal(0, failed);
        }

        // 3. Killing one etcd member changes nothing: writes and traffic go on.
        await using (var traffic = new TrafficLoop(() => PageOk(client)))
        {
            await NetworkHosts.KillHostAsync(ns[Etcd[0]]);
            var change = await Cli(client, dll, "apply", "-f", TrellisBinary.Conformance("istio-bookinfo/networking/virtual-service-all-v1.yaml"));
            Assert.True(change.Exit == 0, "apply with one etcd member down: " + change.Output);
            await Task.Delay(2000);
            var (ok, failed) = await traffic.StopAsync();
            Report($"one etcd member SIGKILLed: apply succeeded; {ok} ok, {failed} failed requests");
            Assert.Equal(0, failed);
        }

        // 4. Killing an agent's host moves its replicas to the others; requests fail only until its endpoints expire.
        pods = await Pods(client);
        var victim = Agents.Where(a => pods.Any(p => p.Node == "a" + a)).OrderByDescending(a => pods.Count(p => p.Node == "a" + a)).First();
        var moved = pods.Where(p => p.Node == "a" + victim).Select(p => p.Workload).ToList();
        await using (var traffic = new TrafficLoop(() => PageOk(client)))
        {
            await Task.Delay(1000);
            clock.Restart();
            await NetworkHosts.KillHostAsync(ns[victim]);
            await Until(async () => (await Pods(client)).Where(p => p.Ready).Select(p => p.Workload).Distinct().Count() == 6
                && (await Pods(client)).All(p => p.Node != "a" + victim), 60, "replicas rescheduled");
            var rescheduled = clock.Elapsed;
            await Until(async () => await PageOk(client), 30, "traffic back");
            var recovered = clock.Elapsed;
            await Task.Delay(2000);
            var (ok, failed) = await traffic.StopAsync();
            Report($"agent host a{victim} ({string.Join(", ", moved)}) SIGKILLed: replicas ready elsewhere after {rescheduled.TotalSeconds:F1} s, "
                + $"traffic back after {recovered.TotalSeconds:F1} s (node TTL {NodeTtlSeconds} s); {ok} ok, {failed} failed requests, failures within {traffic.FailureWindow.TotalSeconds:F1} s");
            Assert.True(traffic.FailureWindow < TimeSpan.FromSeconds(NodeTtlSeconds + 25), $"requests failed for {traffic.FailureWindow}");
            Assert.True(await PageOk(client));
        }

        // 5. An agent restart (the agent alone SIGKILLed, its workloads left running) reaps or adopts: never two copies.
        var restarted = Agents.First(a => a != victim);
        pods = await Pods(client);
        var before = pods.Where(p => p.Node == "a" + restarted).ToList();
        var agentProcess = Process.GetProcesses().FirstOrDefault(p => IsAgent(p, "a" + restarted));
        Assert.NotNull(agentProcess);
        agentProcess.Kill();
        await agentProcess.WaitForExitAsync();
        Assert.All(before, p => Assert.True(Alive(p.Pid), $"{p.Name} was expected to outlive its agent"));
        StartAgent(hosts, ns[restarted], restarted, dll);
        try
        {
            await Until(async () =>
            {
                var now = (await Pods(client)).Where(p => p.Node == "a" + restarted).ToList();
                return now.Count == before.Count && now.All(p => p.Ready) && now.All(p => before.All(b => b.Pid != p.Pid));
            }, 60, "the restarted agent's pods");
        }
        catch (Xunit.Sdk.TrueException)
        {
            Assert.Fail($"the restarted agent's pods did not come back: {string.Join(", ", await Pods(client))}\nits host's output:\n{hosts.OutputOf(ns[restarted])}");
        }
        Assert.All(before, p => Assert.False(Alive(p.Pid), $"{p.Name} (pid {p.Pid}) of the agent's previous life still runs"));
        Assert.Contains("left running by a previous agent", hosts.OutputOf(ns[restarted]), StringComparison.Ordinal);
        Report($"agent a{restarted} restarted: {before.Count} instance(s) of its previous life stopped, as many started anew, none twice");
        await Until(async () => await PageOk(client), 30, "traffic after the agent restart");
    }

    private void StartAgent(NetworkHosts hosts, string ns, string last, string dll) =>
        hosts.Start(ns, "dotnet", dll, "agent", "--node", "a" + last, "--address", Ip(last), "--server", Servers, "--push", Pushes, "--token", JoinToken,
            "--data-dir", Path.Combine(_dir, "a" + last), "--pool-size", "0");

    private static bool IsAgent(Process p, string node)
    {
        try
        {
            var cmdline = File.ReadAllText($"/proc/{p.Id}/cmdline").Split('\0');
            return cmdline.Contains("agent") && cmdline.Contains(node) && cmdline[0].EndsWith("dotnet", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static bool Alive(int pid) => File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    private void Report(string line)
    {
        output.WriteLine(line);
        File.AppendAllText(Path.Combine(TrellisBinary.RepoRoot, "artifacts", "distributed-recovery.txt"), line + "\n");
    }

    private static async Task<string> LeaderAsync(string client)
    {
        foreach (var c in ControlPlanes)
        {
            var json = (await Curl(client, $"http://{Ip(c)}:15000/debug/leader")).Body;
            if (json.Contains("\"isLeader\":true", StringComparison.Ordinal))
            {
                return c;
            }
        }

        throw new InvalidOperationException("no leader");
    }

    private sealed record Pod(string Name, string Workload, string Node, string Ip, bool Ready, int Pid);

    private static async Task<List<Pod>> Pods(string client)
    {
        foreach (var c in ControlPlanes)
        {
            var (status, body) = await Curl(client, $"http://{Ip(c)}:15000/api/v1/pods");
            if (status == 200)
            {
                return JsonNode.Parse(body)!["items"]!.AsArray().Select(p => new Pod(
                    (string)p!["metadata"]!["name"]!, (string)p["metadata"]!["ownerReferences"]![0]!["name"]!, (string)p["spec"]!["nodeName"]!,
                    (string)p["status"]!["podIP"]!, (bool)p["status"]!["ready"]!, (int?)p["status"]!["pid"] ?? 0)).ToList();
            }
        }

        return [];
    }

    private static async Task<bool> PageOk(string client)
    {
        var (status, body) = await Curl(client, "http://127.0.0.1:8080/productpage");
        return status == 200 && body.Contains("data-version=\"v", StringComparison.Ordinal) && !body.Contains("class=\"error\"", StringComparison.Ordinal)
            && !body.Contains("currently unavailable", StringComparison.Ordinal);
    }

    private static async Task<(int Status, string Body)> Curl(string ns, string url)
    {
        var (exit, text) = await NetworkHosts.RunAsync(ns, TimeSpan.FromSeconds(10), "curl", "-s", "--noproxy", "*", "--max-time", "3",
            "-H", url.Contains(":15000/", StringComparison.Ordinal) ? "Authorization: Bearer " + AdminToken : "X-No-Credential: 1", "-w", "\n%{http_code}", url);
        var cut = text.LastIndexOf('\n');
        return exit != 0 || cut < 0 || !int.TryParse(text[(cut + 1)..].Trim(), out var status) ? (0, text) : (status, text[..cut]);
    }

    private static Task<(int Exit, string Output)> Cli(string client, string dll, params string[] args) =>
        NetworkHosts.RunAsync(client, TimeSpan.FromSeconds(60), "dotnet", [dll, .. args, "--server", Servers, "--token", AdminToken]);

    /// <summary>The operator's CA in Istio's plug-in layout (a root that signs itself), which every replica is given.</summary>
    private static string PluggedInCa(string directory)
    {
        Directory.CreateDirectory(directory);
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=Distributed Test Root, O=cluster.local", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509KeyUsageExtension(
            System.Security.Cryptography.X509Certificates.X509KeyUsageFlags.KeyCertSign | System.Security.Cryptography.X509Certificates.X509KeyUsageFlags.CrlSign, true));
        using var root = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        var pem = root.ExportCertificatePem() + "\n";
        File.WriteAllText(Path.Combine(directory, "ca-cert.pem"), pem);
        File.WriteAllText(Path.Combine(directory, "root-cert.pem"), pem);
        File.WriteAllText(Path.Combine(directory, "cert-chain.pem"), pem);
        var keyFile = Path.Combine(directory, "ca-key.pem");
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // the CA refuses a key others can read
        }

        using (var stream = new FileStream(keyFile, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(key.ExportPkcs8PrivateKeyPem() + "\n");
        }

        return directory;
    }

    private static async Task Until(Func<Task<bool>> condition, int seconds, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(200);
        }
    }

    /// <summary>Requests one after another until stopped; counts successes and failures and the span between the first and last failure.</summary>
    private sealed class TrafficLoop : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private int _ok;
        private int _failed;
        private DateTime? _firstFailure;
        private DateTime? _lastFailure;

        public TrafficLoop(Func<Task<bool>> request) => _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                if (await request())
                {
                    Interlocked.Increment(ref _ok);
                }
                else
                {
                    Interlocked.Increment(ref _failed);
                    _firstFailure ??= DateTime.UtcNow;
                    _lastFailure = DateTime.UtcNow;
                }

                await Task.Delay(100);
            }
        });

        public TimeSpan FailureWindow => _firstFailure is { } first && _lastFailure is { } last ? last - first : TimeSpan.Zero;

        public async Task<(int Ok, int Failed)> StopAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            return (_ok, _failed);
        }

        public async ValueTask DisposeAsync()
        {
            if (!_stop.IsCancellationRequested)
            {
                await StopAsync();
            }

            _stop.Dispose();
        }
    }
}
