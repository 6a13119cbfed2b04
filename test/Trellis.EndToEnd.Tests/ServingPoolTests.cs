using System.Net;

namespace Trellis.EndToEnd.Tests;

/// <summary>The pre-warmed pool through the real binary (artifacts/trellis with trellis-poolhost.dll next to it).</summary>
public sealed partial class ServingTests
{
    [Fact]
    public async Task Serving_PooledFunctionAtZero_AnswersFromAPreWarmedHost()
    {
        var service = Path.Combine(_dir, "pooled.yaml");
        await File.WriteAllTextAsync(service, """
            apiVersion: serving.knative.dev/v1
            kind: Service
            metadata: {name: pooled}
            spec:
              template:
                metadata:
                  annotations:
                    serving.trellis.dev/pool: dotnet
                spec:
                  containers:
                  - command: ["dotnet", "samples/functions/bin/functions.dll", "hello"]
                    env: [{name: TARGET, value: pool}]
            """);
        var apply = await TrellisProcess.RunAsync(_server, "apply", "-f", service);
        Assert.True(apply.Exit == 0, apply.Stderr);
        await WaitForAsync(async () => (await CallAsync("pooled.default.example.com")).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "pooled ready");
        await WaitForAsync(async () => await ScaleAsync("pooled-00001") == (0, 0), TimeSpan.FromSeconds(60), "scale to zero");

        // At zero: the request waits in the activator while the agent specializes an idle pool host.
        // (The instance scaled away may still be listed while it drains: only new pids count.)
        var before = await PidsAsync("pooled-00001");
        var answer = await CallAsync("pooled.default.example.com");

        Assert.Equal((HttpStatusCode.OK, "Hello pool! (pooled-00001)\n"), answer);
        var started = (await PidsAsync("pooled-00001")).Except(before).ToArray();
        Assert.NotEmpty(started);
        foreach (var pid in started)
        {
            Assert.Contains("trellis-poolhost", await File.ReadAllTextAsync($"/proc/{pid}/cmdline"), StringComparison.Ordinal);
        }
    }

    private async Task<int[]> PidsAsync(string revision) =>
        (await TryGetAsync("/api/v1/pods"))?["items"]?.AsArray()
            .Where(p => (string?)p?["metadata"]?["labels"]?["serving.knative.dev/revision"] == revision)
            .Select(p => (int?)p?["status"]?["pid"]).OfType<int>().ToArray() ?? [];
}
