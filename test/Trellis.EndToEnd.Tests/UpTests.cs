using System.Net;
using System.Net.Sockets;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// What <c>trellis up</c> tells a new user (issue 17): a port it cannot take is an error with the listener named
/// and a non-zero exit, not a hint to curl someone else's server; state restored from the data directory is
/// announced, a user's edit is not undone by re-applying the sample, <c>--fresh</c> starts empty; the hints name
/// what the gateway really serves.
/// </summary>
public sealed class UpTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-up-" + Guid.NewGuid().ToString("N"));

    public UpTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Up_GatewayPortTaken_NamesTheListenerAndExitsNonZero()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var gateway = await FunctionsUp.GatewayFileAsync(_dir, port);

        await using var up = StartUp(out _, gateway);

        Assert.True(await up.WaitForExitAsync(TimeSpan.FromSeconds(60)), "trellis up kept running with its gateway port taken:\n" + up.Output);
        Assert.True(up.ExitCode == 4, $"exit code {up.ExitCode}:\n{up.Output}");
        Assert.Contains($"error: the ingress gateway cannot listen on 127.0.0.1:{port} (listener gateway/{port}, from Gateway default/knative-ingress-gateway)", up.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("curl", up.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Press Ctrl-C", up.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Up_ApiPortTaken_SaysSoAndExitsNonZero()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var api = ((IPEndPoint)holder.LocalEndpoint).Port;

        await using var up = TrellisProcess.Start("up", "--data-dir", Path.Combine(_dir, "data"),
            "--api-address", $"127.0.0.1:{api}", "--push-address", $"127.0.0.1:{FreePorts.Next()}");

        Assert.True(await up.WaitForExitAsync(TimeSpan.FromSeconds(60)), "trellis up kept running with its API port taken:\n" + up.Output);
        Assert.True(up.ExitCode == 4, $"exit code {up.ExitCode}:\n{up.Output}");
        Assert.Contains($"error: the control plane API cannot listen on 127.0.0.1:{api}", up.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Press Ctrl-C", up.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Up_Restart_AnnouncesRestoredStateKeepsTheUsersEditAndFreshStartsEmpty()
    {
        var port = FreePorts.Next();
        var gateway = await FunctionsUp.GatewayFileAsync(_dir, port);
        var app = Path.Combine(_dir, "app.yaml");
        await File.WriteAllTextAsync(app, App("/hello"));

        // 1. A first session: hints from what the gateway serves (its real port and host, this file's path).
        await using (var first = StartUp(out var server, gateway, app))
        {
            await FunctionsUp.WaitUntilReadyAsync(first);
            Assert.Contains($"curl -H 'Host: demo.example.com' http://localhost:{port}/hello", first.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("productpage", first.Output, StringComparison.Ordinal); // the old hard-coded bookinfo hint
            Assert.DoesNotContain("restored", first.Output, StringComparison.Ordinal);

            // The first start wrote mTLS STRICT mesh-wide (the default) as Istio's own policy; this user removes it (PERMISSIVE, Istio's default).
            var meshWide = await TrellisProcess.RunAsync(server, "get", "pa", "default", "-n", "istio-system", "-o", "yaml");
            Assert.True(meshWide.Exit == 0, meshWide.Stderr);
            Assert.Contains("mode: STRICT", meshWide.Stdout, StringComparison.Ordinal);
            var deleted = await TrellisProcess.RunAsync(server, "delete", "pa", "default", "-n", "istio-system");
            Assert.True(deleted.Exit == 0, deleted.Stderr);

            // The user edits the routing by hand.
            var edit = Path.Combine(_dir, "edit.yaml");
            await File.WriteAllTextAsync(edit, App("/edited"));
            var applied = await TrellisProcess.RunAsync(server, "apply", "-f", edit);
            Assert.True(applied.Exit == 0, applied.Stderr);
            Assert.True(await first.InterruptAsync(TimeSpan.FromSeconds(30), "-TERM"), first.Output);
        }

        // 2. The same command again: the state is announced, the edit kept, the hints follow the edit.
        await using (var second = StartUp(out var server, gateway, app))
        {
            await FunctionsUp.WaitUntilReadyAsync(second);
            Assert.Contains("restored 3 resources from ", second.Output, StringComparison.Ordinal);
            Assert.Contains("`trellis up --fresh` starts empty", second.Output, StringComparison.Ordinal);
            Assert.Contains($"kept the stored VirtualService default/demo: not re-applying {app}", second.Output, StringComparison.Ordinal);
            Assert.Contains($"http://localhost:{port}/edited", second.Output, StringComparison.Ordinal);
            var vs = await TrellisProcess.RunAsync(server, "get", "vs", "demo", "-o", "yaml");
            Assert.Contains("/edited", vs.Stdout, StringComparison.Ordinal);
            var policies = await TrellisProcess.RunAsync(server, "get", "pa", "-A");
            Assert.Equal("No resources found.\n", policies.Stdout); // a later start does not undo the user's removal
            Assert.True(await second.InterruptAsync(TimeSpan.FromSeconds(30), "-TERM"), second.Output);
        }

        // 3. --fresh: nothing restored, nothing stored (with Istio's PERMISSIVE asked for, not even the mesh-wide policy).
        await using (var fresh = StartUp(out var server, "--fresh", "--mesh-mtls", "PERMISSIVE"))
        {
            await FunctionsUp.WaitUntilReadyAsync(fresh);
            Assert.DoesNotContain("restored", fresh.Output, StringComparison.Ordinal);
            Assert.Contains("The ingress gateway has no listener yet", fresh.Output, StringComparison.Ordinal);
            var all = await TrellisProcess.RunAsync(server, "get", "all");
            Assert.True(all.Exit == 0, all.Stderr);
            Assert.Equal("No resources found in default namespace.\n", all.Stdout);
            var gateways = await TrellisProcess.RunAsync(server, "get", "gw");
            Assert.Equal("No resources found.\n", gateways.Stdout);

            // --mesh-mtls PERMISSIVE writes no mesh-wide policy: Istio's default holds.
            var policies = await TrellisProcess.RunAsync(server, "get", "pa", "-A");
            Assert.Equal("No resources found.\n", policies.Stdout);
        }
    }

    [Fact]
    public async Task Up_MeshMtlsNotAMode_UsageErrorAndNothingStarted()
    {
        await using var up = StartUp(out _, "--mesh-mtls", "mutual");
        Assert.True(await up.WaitForExitAsync(TimeSpan.FromSeconds(30)), up.Output);
        Assert.NotEqual(0, up.ExitCode);
        Assert.Contains("--mesh-mtls: 'MUTUAL' is not a mode; use STRICT or PERMISSIVE", up.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_dir, "data")), "a refused start must not create the data directory");
    }

    private TrellisProcess StartUp(out string server, params string[] args)
    {
        var api = FreePorts.Next();
        server = $"http://127.0.0.1:{api}";
        return TrellisProcess.Start([
            "up", .. args, "--data-dir", Path.Combine(_dir, "data"),
            "--api-address", $"127.0.0.1:{api}", "--push-address", $"127.0.0.1:{FreePorts.Next()}"]);
    }

    private static string App(string prefix) => $$"""
        apiVersion: v1
        kind: Service
        metadata: {name: demo}
        spec:
          selector: {app: demo}
          ports: [{name: http, port: 80}]
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: demo}
        spec:
          hosts: [demo.example.com]
          gateways: [knative-ingress-gateway]
          http:
          - match:
            - uri:
                prefix: {{prefix}}
            route:
            - destination: {host: demo}
        """;
}
