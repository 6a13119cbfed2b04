using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests;

/// <summary>Process lifecycle of the real binary: Ctrl-C leaves nothing behind; a killed control plane keeps every acknowledged write.</summary>
public sealed class LifecycleTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-life-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    /// <summary>
    /// Ctrl-C (SIGINT) and SIGTERM (what a script or a service manager sends; README, "Stopping") take
    /// the same orderly path: workloads get SIGTERM and their grace period, then trellis exits 0.
    /// </summary>
    [Theory]
    [InlineData("-INT")]
    [InlineData("-TERM")]
    public async Task Up_CtrlCOrSigterm_StopsEveryWorkloadProcessAndExitsZero(string signal)
    {
        var api = FreePorts.Next();
        var server = $"http://127.0.0.1:{api}";
        await using var up = TrellisProcess.Start(sigintDefault: signal == "-INT", "up", "samples/bookinfo/bookinfo.yaml", "--data-dir", _dir,
            "--api-address", $"127.0.0.1:{api}", "--push-address", $"127.0.0.1:{FreePorts.Next()}");
        using var http = ApiTokens.Client(new Uri(server));
        var pids = new List<int>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (pids.Count < 6)
        {
            Assert.True(DateTime.UtcNow < deadline && !up.HasExited, "pods did not start:\n" + up.Output);
            await Task.Delay(200);
            try
            {
                var pods = JsonNode.Parse(await http.GetStringAsync("/api/v1/pods"))!["items"]!.AsArray();
                pids = pods.Select(p => (int?)p!["status"]!["pid"]).Where(p => p is not null).Select(p => p!.Value).ToList();
            }
            catch (HttpRequestException)
            {
            }
        }

        Assert.True(await up.InterruptAsync(TimeSpan.FromSeconds(40), signal), $"trellis up did not exit after kill {signal}:\n" + up.Output);
        Assert.True(up.ExitCode == 0, $"exit code {up.ExitCode}:\n{up.Output}");
        Assert.Contains("Stopping workloads...", up.Output, StringComparison.Ordinal);
        var alive = pids.Where(IsAlive).ToList();
        Assert.True(alive.Count == 0, $"processes left behind: {string.Join(",", alive)}");
    }

    [Fact]
    public async Task Up_Sigkill_NextStartReapsTheWorkloadsAndRunsOneCopy()
    {
        var api = FreePorts.Next();
        var server = $"http://127.0.0.1:{api}";
        string[] Args() => ["up", "samples/bookinfo/bookinfo.yaml", "--data-dir", _dir, "--api-address", $"127.0.0.1:{api}", "--push-address", $"127.0.0.1:{FreePorts.Next()}"];
        using var http = ApiTokens.Client(new Uri(server));
        List<int> first;
        await using (var up = TrellisProcess.Start(Args()))
        {
            first = await RunningPidsAsync(http, up, 6);
            using var process = System.Diagnostics.Process.GetProcessById(up.Pid);
            process.Kill(entireProcessTree: false); // SIGKILL: no shutdown path runs
            await process.WaitForExitAsync();
        }

        Assert.True(first.All(IsAlive), "the workloads were expected to outlive a SIGKILLed trellis up");
        await using var again = TrellisProcess.Start(Args());
        var second = await RunningPidsAsync(http, again, 6);

        var left = first.Where(IsAlive).ToList();
        Assert.True(left.Count == 0, $"the previous life's workloads still run: {string.Join(",", left)}\n{again.Output}");
        Assert.Contains("left running by a previous agent", again.Output, StringComparison.Ordinal);
        Assert.Empty(second.Intersect(first));
        Assert.True(await again.InterruptAsync(TimeSpan.FromSeconds(40), SigintIgnored() ? "-TERM" : "-INT"), again.Output);
        Assert.DoesNotContain(second, IsAlive);
    }

    private static async Task<List<int>> RunningPidsAsync(HttpClient http, TrellisProcess up, int count)
    {
        var pids = new List<int>();
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (pids.Count < count)
        {
            Assert.True(DateTime.UtcNow < deadline && !up.HasExited, "pods did not start:\n" + up.Output);
            await Task.Delay(200);
            try
            {
                var pods = JsonNode.Parse(await http.GetStringAsync("/api/v1/pods"))!["items"]!.AsArray();
                pids = pods.Where(p => (string?)p!["status"]!["phase"] is "Running" or "Ready").Select(p => (int?)p!["status"]!["pid"]).Where(p => p is not null).Select(p => p!.Value).ToList();
            }
            catch (HttpRequestException)
            {
            }
        }

        return pids;
    }

    /// <summary>Bit 2 (SIGINT) of the ignored-signal mask in /proc/self/status.</summary>
    private static bool SigintIgnored()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (ulong.Parse(line["SigIgn:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture) & (1UL << (2 - 1))) != 0;
    }

    [Fact]
    public async Task ControlPlane_KilledMidApply_KeepsEveryAcknowledgedWrite()
    {
        var api = FreePorts.Next();
        var server = $"http://127.0.0.1:{api}";
        string[] args = ["controlplane", "--data-dir", _dir, "--api-address", $"127.0.0.1:{api}", "--push-address", $"127.0.0.1:{FreePorts.Next()}"];
        var acknowledged = new List<string>();
        await using (var cp = TrellisProcess.Start(args))
        {
            using var http = ApiTokens.Client(new Uri(server));
            await WaitHealthyAsync(http, cp);
            using var writing = new CancellationTokenSource();
            var writer = Task.Run(async () =>
            {
                for (var i = 0; !writing.IsCancellationRequested; i++)
                {
                    var name = "svc-" + i.ToString(CultureInfo.InvariantCulture);
                    try
                    {
                        using var response = await http.PostAsync("/apply", new StringContent($"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  ports: [{{port: 80}}]\n"));
                        if (response.IsSuccessStatusCode)
                        {
                            lock (acknowledged)
                            {
                                acknowledged.Add(name);
                            }
                        }
                    }
                    catch (HttpRequestException)
                    {
                        return; // the control plane is gone
                    }
                }
            });

            await Task.Delay(TimeSpan.FromSeconds(2));
            cp.KillHard(); // SIGKILL while writes are in flight
            await writer.WaitAsync(TimeSpan.FromSeconds(20));
        }

        Assert.NotEmpty(acknowledged);
        await using var restarted = TrellisProcess.Start(args);
        using var again = ApiTokens.Client(new Uri(server));
        await WaitHealthyAsync(again, restarted);
        var names = JsonNode.Parse(await again.GetStringAsync("/api/v1/services"))!["items"]!.AsArray()
            .Select(s => (string)s!["metadata"]!["name"]!).ToHashSet();
        var lost = acknowledged.Where(a => !names.Contains(a)).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} acknowledged writes lost of {acknowledged.Count}: {string.Join(",", lost.Take(5))}");
        Assert.True(names.Count <= acknowledged.Count + 1, "more objects than writes: at most the one in flight may have landed unacknowledged");
    }

    [Fact]
    public async Task ControlPlane_Sigterm_ExitsCleanly()
    {
        var api = FreePorts.Next();
        await using var cp = TrellisProcess.Start("controlplane", "--data-dir", _dir, "--api-address", $"127.0.0.1:{api}", "--push-address", $"127.0.0.1:{FreePorts.Next()}");
        using var http = ApiTokens.Client(new Uri($"http://127.0.0.1:{api}"));
        await WaitHealthyAsync(http, cp);

        Assert.True(await cp.InterruptAsync(TimeSpan.FromSeconds(20), "-TERM"), "controlplane ignored SIGTERM:\n" + cp.Output);
        Assert.True(cp.ExitCode == 0, $"exit code {cp.ExitCode}:\n{cp.Output}");
    }

    private static Task WaitHealthyAsync(HttpClient http, TrellisProcess process) => Eventually.WaitAsync(async () =>
    {
        try
        {
            using var response = await http.GetAsync("/healthz");
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }, TimeSpan.FromSeconds(30), "control plane healthy", process);

    /// <summary>Running, not a zombie: an orphan that exited may wait for a PID 1 that never reaps it.</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }
}
