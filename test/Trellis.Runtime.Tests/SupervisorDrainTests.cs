namespace Trellis.Runtime.Tests;

/// <summary>
/// Draining on a fake clock: a ready instance that is removed turns not ready at once (so the
/// registry takes it out of endpoint sets) and gets SIGTERM only when the drain delay has passed.
/// Processes are real; no test waits for the delay.
/// </summary>
public class SupervisorDrainTests
{
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Reconcile_ReadyInstanceScaledAway_NotReadyAtOnceSigtermOnlyAfterDrainDelay()
    {
        var time = new ManualTimeProvider();
        await using var h = new Harness(time, drainDelay: Drain);
        var terminated = Path.Combine(h.DataDirectory, "terminated");
        var spec = Server("drained", terminated);
        h.Supervisor.Reconcile([spec]);
        var instance = await WaitReadyAsync(h, time);

        h.Supervisor.Reconcile([spec with { Replicas = 0 }]);
        var draining = (await h.WaitAsync(i => i.Count == 1 && i[0].Phase == InstancePhase.Terminating, what: "draining"))[0];

        Assert.False(draining.Ready);
        Assert.Contains(Drain, time.PendingDelays());
        time.Advance(Drain - TimeSpan.FromMilliseconds(1));
        await Task.Delay(200); // a SIGTERM sent too early would have written the file by now
        Assert.False(File.Exists(terminated), "SIGTERM before the drain delay passed");
        Assert.True(ProcessInfo.IsAlive(instance.Pid!.Value));

        time.Advance(TimeSpan.FromMilliseconds(1));
        await h.WaitAsync(i => i.Count == 0, what: "stopped after the drain");
        Assert.True(File.Exists(terminated));
    }

    [Fact]
    public async Task StopAllAsync_WhileDraining_CutsTheDrainShort()
    {
        var time = new ManualTimeProvider();
        await using var h = new Harness(time, drainDelay: Drain);
        var spec = Server("cut", Path.Combine(h.DataDirectory, "terminated"));
        h.Supervisor.Reconcile([spec]);
        await WaitReadyAsync(h, time);
        h.Supervisor.Reconcile([spec with { Replicas = 0 }]);
        await h.WaitAsync(i => i.Count == 1 && i[0].Phase == InstancePhase.Terminating, what: "draining");

        var stop = h.Supervisor.StopAllAsync();

        await stop.WaitAsync(TimeSpan.FromSeconds(10)); // the fake clock never moves: only the cut ends the wait
    }

    [Fact]
    public async Task Reconcile_InstanceNeverReady_StopsWithoutDrain()
    {
        var time = new ManualTimeProvider();
        await using var h = new Harness(time, drainDelay: Drain);
        var spec = Harness.Shell("unready", "exec sleep 30", readiness: new ProbeSpec(ProbeKind.Tcp, null, TimeSpan.FromHours(1), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), 3, 1));
        h.Supervisor.Reconcile([spec]);
        await h.WaitAsync(i => i.Count == 1 && i[0].Pid is not null, what: "running");

        h.Supervisor.Reconcile([spec with { Replicas = 0 }]);

        await h.WaitAsync(i => i.Count == 0, what: "stopped at once");
    }

    /// <summary>An HTTP server on PORT whose shell writes <paramref name="marker"/> when SIGTERM arrives.</summary>
    private static WorkloadSpec Server(string name, string marker) => Harness.Shell(
        name,
        $"trap 'touch {marker}; exit 0' TERM; python3 -m http.server \"$PORT\" --bind 127.0.0.1 >/dev/null 2>&1 & wait",
        graceSeconds: 5);

    /// <summary>The readiness probe waits its period on the fake clock, so move it along until the server answers.</summary>
    private static async Task<InstanceStatus> WaitReadyAsync(Harness h, ManualTimeProvider time)
    {
        for (var i = 0; i < 1000; i++)
        {
            if (h.Supervisor.Instances is [{ Ready: true } ready])
            {
                return ready;
            }

            time.Advance(TimeSpan.FromMilliseconds(15));
            await Task.Delay(10);
        }

        throw new TimeoutException("never ready");
    }
}
