using System.Diagnostics;

namespace Trellis.Runtime.Tests;

public class SupervisorTests
{
    [Fact]
    public async Task Reconcile_NewWorkload_StartsInstanceWithEnvPortAndExtraEnv()
    {
        await using var h = new Harness();
        h.Supervisor.ExtraEnv = (_, ports) => new Dictionary<string, string> { ["HTTP_PROXY"] = $"http://127.0.0.1:{ports["outbound"]}", ["FOO"] = "hook-wins" };
        var spec = Harness.Shell("envy", "echo \"PORT=$PORT FOO=$FOO BAR=$BAR PROXY=$HTTP_PROXY HOST=$HOSTNAME\"; exec sleep 30",
            env: new Dictionary<string, string> { ["FOO"] = "user", ["BAR"] = "user-bar", ["PORT"] = "1" });
        spec = spec with { ExtraPortNames = ["inbound", "outbound"] };

        h.Supervisor.Reconcile([spec]);
        var instance = (await h.WaitAsync(i => i.Count == 1 && i[0].Pid is not null && File.Exists(i[0].LogPath) && new FileInfo(i[0].LogPath).Length > 0, what: "log line"))[0];

        Assert.Matches("^envy-[a-z0-9]{5}$", instance.Id);
        Assert.Equal(instance.Pid, ProcessInfo.ProcessGroup(instance.Pid!.Value));
        Assert.Equal(["inbound", "outbound"], instance.Ports.Keys.Order());
        Assert.Equal(3, new HashSet<int>([instance.Port, .. instance.Ports.Values]).Count);
        Assert.Equal("envy", instance.Labels["app"]);
        Assert.Equal(Path.Combine(h.DataDirectory, "logs", instance.Id + ".log"), instance.LogPath);
        var line = (await File.ReadAllLinesAsync(instance.LogPath))[0];
        Assert.Equal($"PORT={instance.Port} FOO=hook-wins BAR=user-bar PROXY=http://127.0.0.1:{instance.Ports["outbound"]} HOST={instance.Id}", line);
    }

    [Fact]
    public async Task Reconcile_ProcessWritesBothStreamsAndExits_LogKeptAndAppendedAcrossRestarts()
    {
        await using var h = new Harness(initialBackoff: TimeSpan.FromMilliseconds(10));
        h.Supervisor.Reconcile([Harness.Shell("chatty", "echo out; echo err >&2; exit 3")]);

        var instance = (await h.WaitAsync(i => i.Count == 1 && i[0].Restarts >= 2 && i[0].Phase == InstancePhase.CrashLoopBackOff, what: "two restarts"))[0];

        Assert.Equal(3, instance.LastExitCode);
        var lines = await LogReader.ReadAsync(instance.LogPath, follow: false).ToListAsync();
        // Two restarts seen in back-off means at least two runs have exited (the third may not have started): both logged.
        Assert.True(lines.Count(l => l == "out") >= 2, string.Join("|", lines));
        Assert.True(lines.Count(l => l == "err") >= 2, string.Join("|", lines));
    }

    [Fact]
    public async Task Reconcile_CommandNotFound_BacksOffWithMessage()
    {
        await using var h = new Harness();
        h.Supervisor.Reconcile([Harness.Shell("missing", "") with { Command = "no-such-command-xyz", Args = [] }]);

        var instance = (await h.WaitAsync(i => i.Count == 1 && i[0].Phase == InstancePhase.CrashLoopBackOff, what: "backoff"))[0];

        Assert.Contains("'no-such-command-xyz' not found on PATH", instance.Message, StringComparison.Ordinal);
        Assert.Null(instance.Pid);
    }

    [Fact]
    public async Task Reconcile_DefaultReadiness_ReadyOnceAppPortAcceptsTcp()
    {
        await using var h = new Harness();
        // Listens only after a pause, so "ready" must come from the probe, not from the start.
        h.Supervisor.Reconcile([Harness.Shell("web", "sleep 0.3; exec python3 -m http.server \"$PORT\" --bind 127.0.0.1")]);

        var starting = await h.WaitAsync(i => i.Count == 1 && i[0].Phase == InstancePhase.Starting, what: "starting");
        Assert.False(starting[0].Ready);
        var ready = (await h.WaitAsync(i => i[0].Ready, what: "ready"))[0];

        Assert.Equal(InstancePhase.Ready, ready.Phase);
        Assert.NotNull(ready.StartedAt);
    }

    [Fact]
    public async Task Reconcile_HttpProbe_ReadyOn200AndNotReadyAfterFailureThreshold()
    {
        await using var h = new Harness();
        var site = Path.Combine(h.DataDirectory, "site");
        Directory.CreateDirectory(site);
        await File.WriteAllTextAsync(Path.Combine(site, "healthz"), "ok");
        var probe = new ProbeSpec(ProbeKind.Http, "/healthz", TimeSpan.Zero, TimeSpan.FromMilliseconds(30), TimeSpan.FromSeconds(1), 2, 1);
        h.Supervisor.Reconcile([Harness.Shell("web", "exec python3 -m http.server \"$PORT\" --bind 127.0.0.1", readiness: probe) with { WorkingDirectory = site }]);

        await h.WaitAsync(i => i.Count == 1 && i[0].Ready, what: "ready");
        File.Delete(Path.Combine(site, "healthz"));
        var notReady = (await h.WaitAsync(i => !i[0].Ready, what: "not ready"))[0];

        Assert.Equal(InstancePhase.Running, notReady.Phase);
        Assert.Equal(0, notReady.Restarts);
    }

    [Fact]
    public async Task Reconcile_HttpProbeAnswers404_NeverReady()
    {
        await using var h = new Harness();
        var probe = new ProbeSpec(ProbeKind.Http, "/missing", TimeSpan.Zero, TimeSpan.FromMilliseconds(30), TimeSpan.FromSeconds(1), 1, 1);
        var dir = Directory.CreateDirectory(Path.Combine(h.DataDirectory, "empty")).FullName;
        h.Supervisor.Reconcile([Harness.Shell("web", "exec python3 -m http.server \"$PORT\" --bind 127.0.0.1", readiness: probe) with { WorkingDirectory = dir }]);

        var instances = await h.WaitAsync(i => i.Count == 1 && i[0].Pid is not null, what: "started");
        // Let the server come up and answer a few probes with 404.
        await WaitForLogAsync(instances[0].LogPath, "404");

        Assert.False(h.Supervisor.Instances[0].Ready);
        Assert.Equal(InstancePhase.Starting, h.Supervisor.Instances[0].Phase);
    }

    [Fact]
    public async Task Reconcile_InvalidList_ThrowsAndChangesNothing()
    {
        await using var h = new Harness();
        h.Supervisor.Reconcile([Harness.Shell("keep", "exec sleep 30")]);
        var before = await h.WaitAsync(i => i.Count == 1, what: "one instance");

        var error = Assert.Throws<ArgumentException>(() => h.Supervisor.Reconcile([Harness.Shell("keep", "exec sleep 30", replicas: -1), Harness.Shell("x", "") with { Command = "" }]));

        Assert.Contains("replicas", error.Message, StringComparison.Ordinal);
        Assert.Contains("command", error.Message, StringComparison.Ordinal);
        Assert.Equal(before[0].Id, Assert.Single(h.Supervisor.Instances).Id);
        Assert.False(h.Supervisor.Instances[0].Phase is InstancePhase.Terminating or InstancePhase.Exited);
    }

    [Fact]
    public async Task Reconcile_ReplicasChanged_ScalesUpThenDownRemovingNewestFirst()
    {
        await using var h = new Harness();
        var spec = Harness.Shell("many", "exec sleep 30", replicas: 3, graceSeconds: 1);
        h.Supervisor.Reconcile([spec]);
        var three = await h.WaitAsync(i => i.Count == 3 && i.All(x => x.Pid is not null), what: "three running");

        h.Supervisor.Reconcile([spec with { Replicas = 1 }]);
        var one = await h.WaitAsync(i => i.Count == 1, what: "scaled down to one");

        Assert.Equal(three[0].Id, one[0].Id);
        Assert.All(three.Skip(1), gone => Assert.False(ProcessInfo.IsAlive(gone.Pid!.Value)));
    }

    [Fact]
    public async Task Reconcile_WorkloadAbsent_StopsAndRemovesIt()
    {
        await using var h = new Harness();
        h.Supervisor.Reconcile([Harness.Shell("a", "exec sleep 30"), Harness.Shell("b", "exec sleep 30")]);
        var both = await h.WaitAsync(i => i.Count == 2 && i.All(x => x.Pid is not null), what: "two running");

        h.Supervisor.Reconcile([Harness.Shell("a", "exec sleep 30")]);
        var left = await h.WaitAsync(i => i.Count == 1, what: "b removed");

        Assert.Equal("a", left[0].Workload);
        Assert.Equal(both[0].Id, left[0].Id);
        Assert.False(ProcessInfo.IsAlive(both[1].Pid!.Value));
    }

    [Fact]
    public async Task Reconcile_RevisionChanged_ReplacesInstancesKeepingOldUntilNewReady()
    {
        await using var h = new Harness();
        var server = "exec python3 -m http.server \"$PORT\" --bind 127.0.0.1";
        var v1 = Harness.Shell("web", server, env: new Dictionary<string, string> { ["V"] = "1" }, graceSeconds: 1);
        h.Supervisor.Reconcile([v1]);
        var old = (await h.WaitAsync(i => i.Count == 1 && i[0].Ready, what: "v1 ready"))[0];

        // v2 listens only after a pause; until then the v1 instance must keep serving.
        var v2 = v1 with { Args = ["-c", "sleep 0.5; " + server], Env = new Dictionary<string, string> { ["V"] = "2" } };
        h.Supervisor.Reconcile([v2]);
        var surge = await h.WaitAsync(i => i.Count == 2, what: "surge");
        Assert.Equal(old.Id, surge[0].Id);
        Assert.True(surge[0].Ready);

        var replaced = (await h.WaitAsync(i => i.Count == 1 && i[0].Id != old.Id && i[0].Ready, what: "v2 replaced v1"))[0];
        Assert.Equal(surge[1].Id, replaced.Id);
        Assert.False(ProcessInfo.IsAlive(old.Pid!.Value));
    }

    [Fact]
    public async Task Changed_InstanceStarts_RaisedWithSnapshot()
    {
        await using var h = new Harness();
        var seen = new TaskCompletionSource<IReadOnlyList<InstanceStatus>>(TaskCreationOptions.RunContinuationsAsynchronously);
        h.Supervisor.Changed += instances =>
        {
            if (instances.Count == 1 && instances[0].Pid is not null)
            {
                seen.TrySetResult(instances);
            }
        };

        h.Supervisor.Reconcile([Harness.Shell("event", "exec sleep 30")]);

        var snapshot = await seen.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("event", snapshot[0].Workload);
    }

    [Fact]
    public async Task StopAllAsync_ProcessHandlesSigterm_ExitsPromptlyWithoutRestart()
    {
        await using var h = new Harness();
        h.Supervisor.Reconcile([Harness.Shell("polite", "trap 'echo bye; exit 0' TERM; echo armed; while true; do sleep 0.05; done", graceSeconds: 20)]);
        // A SIGTERM before the shell has set its trap would kill it (143): wait until it is armed.
        await h.WaitAsync(i => i.Count == 1 && i[0].Pid is not null && File.Exists(i[0].LogPath) && File.ReadAllText(i[0].LogPath).Contains("armed", StringComparison.Ordinal), what: "trap armed");

        var clock = Stopwatch.StartNew();
        await h.Supervisor.StopAllAsync();

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        var instance = Assert.Single(h.Supervisor.Instances);
        Assert.Equal(InstancePhase.Exited, instance.Phase);
        Assert.Equal(0, instance.LastExitCode);
        Assert.Equal(0, instance.Restarts);
        Assert.Contains("bye", await File.ReadAllTextAsync(instance.LogPath), StringComparison.Ordinal);
        await Task.Delay(100);
        Assert.Equal(InstancePhase.Exited, h.Supervisor.Instances[0].Phase);
    }

    [Fact]
    public async Task StopAllAsync_ProcessIgnoresSigterm_KilledWithChildrenAfterGracePeriod()
    {
        await using var h = new Harness();
        var childPidFile = Path.Combine(h.DataDirectory, "child.pid");
        h.Supervisor.Reconcile([Harness.Shell("stubborn", $"trap '' TERM; sleep 60 & echo $! > {childPidFile}; while true; do sleep 0.05; done", graceSeconds: 0.5)]);
        var running = (await h.WaitAsync(i => i.Count == 1 && i[0].Pid is not null && File.Exists(childPidFile), what: "running with child"))[0];
        var childPid = int.Parse((await File.ReadAllTextAsync(childPidFile)).Trim(), System.Globalization.CultureInfo.InvariantCulture);

        var clock = Stopwatch.StartNew();
        await h.Supervisor.StopAllAsync();

        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.5), $"killed after {clock.Elapsed}, before the grace period");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        var instance = Assert.Single(h.Supervisor.Instances);
        Assert.Equal(InstancePhase.Exited, instance.Phase);
        Assert.Equal(128 + 9, instance.LastExitCode);
        Assert.False(ProcessInfo.IsAlive(running.Pid!.Value));
        Assert.False(ProcessInfo.IsAlive(childPid), "the background child survived");
    }

    [Fact]
    public async Task Reconcile_MainProcessExitsLeavingChild_ChildKilled()
    {
        await using var h = new Harness(initialBackoff: TimeSpan.FromSeconds(30));
        var childPidFile = Path.Combine(h.DataDirectory, "child.pid");
        h.Supervisor.Reconcile([Harness.Shell("leaky", $"sleep 60 & echo $! > {childPidFile}; exit 1")]);

        await h.WaitAsync(i => i.Count == 1 && i[0].Phase == InstancePhase.CrashLoopBackOff, what: "crashed");
        var childPid = int.Parse((await File.ReadAllTextAsync(childPidFile)).Trim(), System.Globalization.CultureInfo.InvariantCulture);

        // SIGKILL is delivered asynchronously: give the kernel a moment before calling it a survivor.
        for (var i = 0; i < 100 && ProcessInfo.IsAlive(childPid); i++)
        {
            await Task.Delay(20);
        }

        Assert.False(ProcessInfo.IsAlive(childPid), "the orphaned child survived its instance");
    }

    private static async Task WaitForLogAsync(string path, string text)
    {
        for (var i = 0; i < 500; i++)
        {
            if (File.Exists(path) && (await File.ReadAllTextAsync(path)).Contains(text, StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(10);
        }

        throw new TimeoutException($"'{text}' never appeared in {path}");
    }
}
