using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// Scaling under load and stopping: no request fails while a revision scales out, is replaced by a
/// roll-out and scales down; a function that ignores SIGTERM is killed after its grace period.
/// </summary>
public sealed partial class ServingTests
{
    [Fact]
    public async Task Serving_SteadyLoadThroughScaleOutRolloutAndScaleDown_NoRequestFails()
    {
        var yaml = Path.Combine(_dir, "steady.yaml");
        await File.WriteAllTextAsync(yaml, Steady("one"));
        var apply = await TrellisProcess.RunAsync(_server, "apply", "-f", yaml);
        Assert.True(apply.Exit == 0, apply.Stderr);
        await WaitForAsync(async () => (await CallAsync("steady.default.example.com", "/?ms=1")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "steady ready");

        using var stop = new CancellationTokenSource();
        var failures = new ConcurrentQueue<string>();
        var served = 0;
        var workers = 6;
        async Task WorkAsync(int worker)
        {
            while (!stop.IsCancellationRequested)
            {
                if (worker >= Volatile.Read(ref workers))
                {
                    await Task.Delay(50);
                    continue;
                }

                var (status, body) = await CallAsync("steady.default.example.com", "/?ms=100");
                if (status == HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref served);
                }
                else
                {
                    failures.Enqueue($"{(int)status} {body.Trim()}");
                }
            }
        }

        var load = Task.WhenAll(Enumerable.Range(0, 6).Select(w => Task.Run(() => WorkAsync(w))));
        try
        {
            // About 6 requests in flight against a target of 2 (70 % utilization): it scales out to the cap of 4.
            await WaitForAsync(async () => (await ScaleAsync("steady-00001")).Actual >= 3, TimeSpan.FromSeconds(60), "scale out under load");

            // Roll out a new template: revision 2 takes all traffic and revision 1 goes to zero, all under load.
            await File.WriteAllTextAsync(yaml, Steady("two"));
            apply = await TrellisProcess.RunAsync(_server, "apply", "-f", yaml);
            Assert.True(apply.Exit == 0, apply.Stderr);
            await WaitForAsync(async () => (await ScaleAsync("steady-00001")) == (0, 0) && (await ScaleAsync("steady-00002")).Actual >= 1, TimeSpan.FromSeconds(90), "roll-out to revision 2");
            await WaitForAsync(async () => (await ScaleAsync("steady-00002")).Actual >= 3, TimeSpan.FromSeconds(60), "revision 2 scaled out");

            // Less load: revision 2 scales down while requests keep flowing.
            Volatile.Write(ref workers, 1);
            await WaitForAsync(async () => (await ScaleAsync("steady-00002")).Actual <= 2, TimeSpan.FromSeconds(90), "scale down under load");
        }
        finally
        {
            await stop.CancelAsync();
            await load;
        }

        Assert.True(failures.IsEmpty, $"{failures.Count} of {served + failures.Count} requests failed: {string.Join("; ", failures.Take(10))}");
        Assert.True(served > 100, $"only {served} requests served");
    }

    [Fact]
    public async Task Serving_FunctionIgnoresSigterm_KilledAfterItsGracePeriod()
    {
        var yaml = Path.Combine(_dir, "stubborn.yaml");
        await File.WriteAllTextAsync(yaml, """
            apiVersion: serving.knative.dev/v1
            kind: Service
            metadata: {name: stubborn}
            spec:
              template:
                metadata:
                  annotations: {autoscaling.knative.dev/min-scale: "1"}
                spec:
                  timeoutSeconds: 3
                  containers:
                  - command: ["dotnet", "samples/functions/bin/functions.dll", "stubborn"]
            """);
        var apply = await TrellisProcess.RunAsync(_server, "apply", "-f", yaml);
        Assert.True(apply.Exit == 0, apply.Stderr);
        await WaitForAsync(async () => (await CallAsync("stubborn.default.example.com")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "stubborn ready");
        var pod = (await PodsAsync()).Single(p => ((string?)p["metadata"]?["name"])?.StartsWith("stubborn-00001-deployment-", StringComparison.Ordinal) == true);
        var pid = (int)pod["status"]!["pid"]!;
        var name = (string)pod["metadata"]!["name"]!;

        var clock = Stopwatch.StartNew();
        var delete = await TrellisProcess.RunAsync(_server, "delete", "ksvc", "stubborn");
        Assert.True(delete.Exit == 0, delete.Stderr);
        await WaitForAsync(() => Task.FromResult(!Directory.Exists($"/proc/{pid}")), TimeSpan.FromSeconds(60), "stubborn process gone");
        var lived = clock.Elapsed;

        // The grace period is the revision's timeoutSeconds (3 s), counted from the SIGTERM it ignored.
        Assert.True(lived >= TimeSpan.FromSeconds(3), $"gone after {lived}: it cannot have outlived a SIGTERM it ignores for 3 s");
        await WaitForAsync(async () => !(await PodsAsync()).Any(p => (string?)p["metadata"]?["name"] == name), TimeSpan.FromSeconds(30), "pod gone");
        var log = await File.ReadAllTextAsync(Path.Combine(_dir, "data", "agent", "logs", name + ".log"));
        Assert.Contains("ignoring SIGTERM", log, StringComparison.Ordinal);
    }

    private static string Steady(string version) => $$"""
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata: {name: steady}
        spec:
          template:
            metadata:
              annotations:
                autoscaling.knative.dev/target: "2"
                autoscaling.knative.dev/max-scale: "4"
            spec:
              timeoutSeconds: 30
              containers:
              - command: ["dotnet", "samples/functions/bin/functions.dll", "slow"]
                env: [{name: VERSION, value: {{version}}}]
        """;

    private async Task<IReadOnlyList<JsonNode>> PodsAsync() =>
        (await TryGetAsync("/api/v1/namespaces/default/pods"))?["items"] is JsonArray items ? items.Select(i => i!).ToList() : [];
}
