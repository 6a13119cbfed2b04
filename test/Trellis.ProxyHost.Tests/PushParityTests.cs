using System.Net;
using Trellis.Api.Snapshots;
using Trellis.ProxyHost.Tests.Infrastructure;
using KestrelProtocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols;

namespace Trellis.ProxyHost.Tests;

/// <summary>
/// Both builds fed by a control plane's push stream (docs/protocol.md): the same hello, the same ACK, the pushed
/// listener serving, and the activator's demand report for a cluster at zero posted to <c>--server</c>.
/// </summary>
public sealed class PushParityTests
{
    private const string Cold = "outbound|80|hello-00001|hello.default.svc.cluster.local";

    private const string ProxyToken = "0123abcd.proxy-token-for-the-fake-plane";

    [Fact]
    public async Task Push_SnapshotAppliedAndAcked_SameWireBothBuilds()
    {
        await using var backend = await EchoBackend.StartAsync(KestrelProtocols.Http1);
        await using var plane = await FakeControlPlane.StartAsync();
        var seen = new Dictionary<string, (string Hello, string Ack, string Answer, string ColdAnswer, string Demand, string Explain)>();
        foreach (var build in ProxyBuild.Both)
        {
            var name = "gateway/" + build.Name;
            var port = FreePorts.Next();
            plane.Snapshots[name] = FakeControlPlane.Json(Snapshot(port, backend.Port));
            await using var proxy = ProxyProcess.Start(build, "--name", name, "--push", plane.Push.ToString(), "--server", plane.Api.ToString(),
                "--token", ProxyToken, "--label", "istio=ingressgateway", "--label", "app=edge", "--log-level", "warning");
            await proxy.WaitForPortsAsync(port);
            await Eventually(() => plane.Received.TryGetValue(name, out var lines) && lines.Count >= 2, $"{build} ACKs the snapshot", proxy);

            using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
            using var answer = await client.GetAsync($"http://127.0.0.1:{port}/pushed");
            using var cold = await client.GetAsync($"http://127.0.0.1:{port}/cold");
            await Eventually(() => plane.Reports.Any(r => r.Path == "/serving/v1/demand" && r.Body.Contains(Cold, StringComparison.Ordinal)), $"{build} reports demand", proxy);

            var lines = plane.Received[name].ToArray();
            var admin = (string)System.Text.Json.Nodes.JsonNode.Parse(lines[0])!["adminUrl"]!;
            using var explain = await client.GetAsync($"{admin}explain?url={Uri.EscapeDataString($"http://127.0.0.1:{port}/pushed")}");
            var explained = $"{(int)explain.StatusCode} {await explain.Content.ReadAsStringAsync()}".Replace(port.ToString(System.Globalization.CultureInfo.InvariantCulture), "PORT", StringComparison.Ordinal).Replace(name, "NAME", StringComparison.Ordinal);
            seen[build.Name] = (
                WithoutAdminUrl(lines[0]).Replace(name, "NAME", StringComparison.Ordinal),
                lines[1],
                $"{(int)answer.StatusCode}",
                $"{(int)cold.StatusCode} {await cold.Content.ReadAsStringAsync()}",
                plane.Reports.First(r => r.Path == "/serving/v1/demand").Body,
                explained);
            Assert.Contains(plane.Authorizations, a => a.Path == "/push/v1/stream" && a.Authorization == "Bearer " + ProxyToken);
            Assert.Contains(plane.Authorizations, a => a.Path == "/serving/v1/demand" && a.Authorization == "Bearer " + ProxyToken);
            plane.Reports.Clear();
            plane.Authorizations.Clear();
        }

        Assert.Equal("""{"name":"NAME","role":"gateway","labels":{"istio":"ingressgateway","app":"edge"}}""", seen["jit"].Hello);
        Assert.Equal("""{"version":"push-1","accepted":true,"errors":[]}""", seen["jit"].Ack);
        Assert.Equal("200", seen["jit"].Answer);
        Assert.StartsWith("503 ", seen["jit"].ColdAnswer, StringComparison.Ordinal);
        Assert.Equal($$"""{"cluster":"{{Cold}}","waiting":1}""", seen["jit"].Demand);
        Assert.StartsWith("200 {", seen["jit"].Explain, StringComparison.Ordinal);
        Assert.Contains("\"backend\"", seen["jit"].Explain, StringComparison.Ordinal);
        Assert.Equal(seen["jit"], seen["aot"]);
    }

    /// <summary>The hello names the proxy's admin endpoint, on a port of its own per process: present, loopback, then left out.</summary>
    private static string WithoutAdminUrl(string hello)
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(hello)!.AsObject();
        Assert.StartsWith("http://127.0.0.1:", (string?)json["adminUrl"], StringComparison.Ordinal);
        json.Remove("adminUrl");
        return json.ToJsonString();
    }

    private static ProxySnapshot Snapshot(int port, int backendPort) => new(
        "push-1",
        [new ListenerConfig("gw", "127.0.0.1", port, ListenerKind.Gateway, "rt", Protocols: HttpProtocols.Http1)],
        [new RouteTableConfig("rt", [new VirtualHostConfig("all", ["*"], [
            new RouteConfig("cold", [new RouteMatchConfig(Uri: new StringMatchConfig(StringMatchKind.Prefix, "/cold"))], [new WeightedClusterConfig(Cold, 100)]),
            new RouteConfig("default", [], [new WeightedClusterConfig("backend", 100)]),
        ])])],
        [
            new ClusterConfig("backend", [new EndpointConfig("127.0.0.1", backendPort)]),
            new ClusterConfig(Cold, [], Activation: new ActivationConfig(QueueCapacity: 4, Timeout: TimeSpan.FromMilliseconds(300))),
        ]);

    private static async Task Eventually(Func<bool> condition, string what, ProxyProcess proxy)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}:\n{proxy.Stdout}\n{proxy.Stderr}");
            await Task.Delay(20);
        }
    }
}
