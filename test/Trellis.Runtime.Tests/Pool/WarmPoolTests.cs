using System.Diagnostics;

namespace Trellis.Runtime.Tests.Pool;

/// <summary>
/// The pre-warmed pool with the real pool host (src/Trellis.PoolHost) running the sample functions
/// (samples/functions). Pool hosts take a second or more to warm up on a loaded machine, hence the
/// long waits; every test disposes its harness, which SIGKILLs idle hosts and stops instances.
/// </summary>
public sealed class WarmPoolTests
{
    private const double Warm = 90;

    [Fact]
    public async Task Reconcile_PooledWorkload_RunsInThePoolHostWithItsEnvArgsAndWorkingDirectory()
    {
        var h = new Harness(poolSize: 1, poolRefillDelay: TimeSpan.FromHours(1));
        var workDir = Directory.CreateTempSubdirectory("trellis-pool-wd-").FullName;
        try
        {
            Want(h);
            var idle = await WaitIdleAsync(h, 1);
            h.Supervisor.Reconcile([Function("fn", "hello", workDir, new() { ["TARGET"] = "pool", ["K_REVISION"] = "fn-00001" })]);
            var ready = await h.WaitAsync(s => s.Count == 1 && s[0].Ready, Warm, "ready");

            Assert.Equal(idle[0], ready[0].Pid);
            Assert.Contains("trellis-poolhost", CommandLine(ready[0].Pid!.Value));
            Assert.Equal(ready[0].Pid, ProcessInfo.ProcessGroup(ready[0].Pid!.Value)); // still its own group
            Assert.Equal("Hello pool! (fn-00001)\n", await GetAsync(ready[0].Port));
            Assert.Equal(workDir, new DirectoryInfo($"/proc/{ready[0].Pid}/cwd").LinkTarget);
            Assert.Empty(h.Supervisor.IdlePoolHosts); // taken, and the refill waits an hour
        }
        finally
        {
            await h.DisposeAsync();
            Directory.Delete(workDir, recursive: true);
        }
    }

    [Fact]
    public async Task PooledFunction_WritesToTheInstanceLogAndExitsWithItsCode()
    {
        await using var h = new Harness(poolSize: 1, poolRefillDelay: TimeSpan.FromHours(1), initialBackoff: TimeSpan.FromHours(1));
        Want(h);
        var idle = await WaitIdleAsync(h, 1);

        // An unknown function name: the sample writes to stderr and returns 2.
        h.Supervisor.Reconcile([Function("bad", "nope", null, [])]);
        var exited = await h.WaitAsync(s => s.Count == 1 && s[0].LastExitCode is not null, Warm, "exit");

        Assert.Equal(2, exited[0].LastExitCode);
        Assert.Contains("unknown function 'nope'", await File.ReadAllTextAsync(exited[0].LogPath));
        Assert.False(ProcessInfo.IsAlive(idle[0]));
    }

    [Fact]
    public async Task Stop_PooledFunction_SigtermEndsItGracefully()
    {
        await using var h = new Harness(poolSize: 1, poolRefillDelay: TimeSpan.FromHours(1));
        Want(h);
        var idle = await WaitIdleAsync(h, 1);
        h.Supervisor.Reconcile([Function("fn", "hello", null, [], graceSeconds: 30)]);
        var ready = await h.WaitAsync(s => s.Count == 1 && s[0].Ready, Warm, "ready");
        Assert.Equal(idle[0], ready[0].Pid);

        var stopwatch = Stopwatch.StartNew();
        await h.Supervisor.StopAllAsync();

        // Kestrel's graceful shutdown returns from Main: exit code 0 well within the grace period
        // (a SIGKILL after 30 s would show as 137 and take 30 s).
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(15), $"stop took {stopwatch.Elapsed}");
        Assert.Equal(0, h.Supervisor.Instances.Single().LastExitCode);
        Assert.False(ProcessInfo.IsAlive(idle[0]));
    }

    [Fact]
    public async Task TakenHost_IsReplaced()
    {
        await using var h = new Harness(poolSize: 1);
        Want(h);
        var idle = await WaitIdleAsync(h, 1);
        h.Supervisor.Reconcile([Function("fn", "hello", null, [])]);
        await h.WaitAsync(s => s.Count == 1 && s[0].Ready && s[0].Pid == idle[0], Warm, "ready in the pool host");

        var refilled = await WaitIdleAsync(h, 1);
        Assert.NotEqual(idle[0], refilled[0]);
    }

    [Fact]
    public async Task EmptyPool_FallsBackToAPlainStart()
    {
        await using var h = new Harness(poolSize: 1, poolRefillDelay: TimeSpan.FromHours(1));
        Want(h);
        var idle = await WaitIdleAsync(h, 1);
        h.Supervisor.Reconcile([Function("fn", "hello", null, [], replicas: 2)]);
        var ready = await h.WaitAsync(s => s.Count == 2 && s.All(i => i.Ready), Warm, "two ready");

        var commands = ready.Select(i => CommandLine(i.Pid!.Value)).ToArray();
        Assert.Single(commands, c => c.Contains("trellis-poolhost", StringComparison.Ordinal));
        Assert.Single(commands, c => c.Contains("functions.dll", StringComparison.Ordinal));
        Assert.Contains(idle[0], ready.Select(i => i.Pid!.Value));
        foreach (var instance in ready)
        {
            Assert.StartsWith("Hello", await GetAsync(instance.Port), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task IdleHostThatDies_IsReplaced()
    {
        await using var h = new Harness(poolSize: 1);
        Want(h);
        var idle = await WaitIdleAsync(h, 1);

        Signals.Send(idle[0], Signals.SigKill);
        var replaced = await WaitIdleAsync(h, 1, except: idle[0]);

        Assert.NotEqual(idle[0], replaced[0]);
        Assert.False(ProcessInfo.IsAlive(idle[0]));
    }

    [Fact]
    public async Task NotEligibleWorkload_StartsPlainAndLeavesThePoolAlone()
    {
        await using var h = new Harness(poolSize: 1);
        Want(h);
        var idle = await WaitIdleAsync(h, 1);
        h.Supervisor.Reconcile([Harness.Shell("sh", "exec sleep 30") with { Pool = "dotnet" }]);
        var running = await h.WaitAsync(s => s.Count == 1 && s[0].Pid is not null, Warm, "running");

        Assert.NotEqual(idle[0], running[0].Pid);
        Assert.Equal(idle, h.Supervisor.IdlePoolHosts);
    }

    [Fact]
    public async Task NoWorkloadOptsIn_NoHostIsStarted()
    {
        await using var h = new Harness(poolSize: 1);
        h.Supervisor.Reconcile([Harness.Shell("sh", "exec sleep 30")]);
        await h.WaitAsync(s => s.Count == 1 && s[0].Pid is not null, Warm, "running");

        // Absence cannot be awaited; a host would have logged its start within this second.
        await Task.Delay(TimeSpan.FromSeconds(1));

        Assert.Empty(h.Supervisor.IdlePoolHosts);
        var pool = Path.Combine(h.DataDirectory, "pool");
        Assert.True(!Directory.Exists(pool) || Directory.GetFiles(pool, "*.log").Length == 0, "a pool host was started");
    }

    [Fact]
    public async Task Dispose_KillsIdleHosts()
    {
        var h = new Harness(poolSize: 2);
        Want(h);
        var idle = await WaitIdleAsync(h, 2);

        await h.DisposeAsync();

        Assert.All(idle, pid => Assert.False(ProcessInfo.IsAlive(pid)));
    }

    private static WorkloadSpec Function(string name, string function, string? workDir, Dictionary<string, string> env, int replicas = 1, double graceSeconds = 5) =>
        new(name, "default", new Dictionary<string, string> { ["app"] = name }, replicas, "dotnet", [PoolTestPaths.Functions, function],
            env, workDir, null, TimeSpan.FromSeconds(graceSeconds), [])
        { Pool = "dotnet" };

    /// <summary>The pool fills only once a workload opts in: declare one at zero replicas, as a revision at zero is.</summary>
    private static void Want(Harness h) => h.Supervisor.Reconcile([Function("wanted", "hello", null, [], replicas: 0)]);

    private static async Task<IReadOnlyList<int>> WaitIdleAsync(Harness h, int count, int except = 0)
    {
        var deadline = DateTime.UtcNow.AddSeconds(Warm);
        while (true)
        {
            var idle = h.Supervisor.IdlePoolHosts;
            if (idle.Count == count && !idle.Contains(except))
            {
                return idle;
            }

            if (DateTime.UtcNow > deadline)
            {
                var logs = Directory.Exists(Path.Combine(h.DataDirectory, "pool"))
                    ? string.Join("\n", Directory.GetFiles(Path.Combine(h.DataDirectory, "pool"), "*.log").Select(File.ReadAllText))
                    : "(no pool directory)";
                throw new TimeoutException($"{idle.Count} idle pool hosts, want {count}; pool logs: {logs}");
            }

            await Task.Delay(20);
        }
    }

    private static string CommandLine(int pid) => File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');

    private static async Task<string> GetAsync(int port)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        return await client.GetStringAsync($"http://127.0.0.1:{port}/");
    }
}
