namespace Trellis.Runtime.Tests;

/// <summary>
/// The crash backoff, on a fake clock: processes are real, but no test waits for a delay to pass.
/// </summary>
public class SupervisorBackoffTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(1);

    [Fact]
    public async Task Reconcile_ProcessKeepsCrashing_RestartsAfter1s2s4sCappedAtMax()
    {
        var time = new ManualTimeProvider();
        await using var h = new Harness(time, initialBackoff: TimeSpan.FromSeconds(1));
        h.Supervisor.Reconcile([Harness.Shell("crashy", "exit 3")]);

        // Options cap the backoff at 4 s.
        double[] expected = [1, 2, 4, 4];
        for (var restarts = 0; restarts < expected.Length; restarts++)
        {
            var delay = TimeSpan.FromSeconds(expected[restarts]);
            var waiting = await WaitForBackoffAsync(h, time, restarts);
            Assert.Equal(3, waiting.LastExitCode);
            Assert.Equal([delay], time.PendingDelays());

            time.Advance(delay - Tick);
            Assert.Equal(restarts, h.Supervisor.Instances[0].Restarts);
            Assert.Equal(InstancePhase.CrashLoopBackOff, h.Supervisor.Instances[0].Phase);

            time.Advance(Tick);
            await h.WaitAsync(i => i[0].Restarts == restarts + 1, what: $"restart {restarts + 1}");
        }
    }

    [Fact]
    public async Task Reconcile_ProcessRanTenMinutesBeforeCrash_BackoffStartsOver()
    {
        var time = new ManualTimeProvider();
        await using var h = new Harness(time, initialBackoff: TimeSpan.FromSeconds(1));
        // The process exits at once while the file exists, and otherwise runs until it appears.
        var crash = Path.Combine(h.DataDirectory, "crash");
        await File.WriteAllTextAsync(crash, "");
        h.Supervisor.Reconcile([Harness.Shell("flaky", $"while [ ! -f {crash} ]; do sleep 0.01; done; exit 1")]);

        await WaitForBackoffAsync(h, time, 0);
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitForBackoffAsync(h, time, 1);
        Assert.Equal([TimeSpan.FromSeconds(2)], time.PendingDelays());
        File.Delete(crash);
        time.Advance(TimeSpan.FromSeconds(2));
        await h.WaitAsync(i => i[0].Restarts == 2 && i[0].Phase == InstancePhase.Starting, what: "long run");

        time.Advance(TimeSpan.FromMinutes(10));
        await File.WriteAllTextAsync(crash, "");

        await WaitForBackoffAsync(h, time, 2);
        Assert.Equal([TimeSpan.FromSeconds(1)], time.PendingDelays());
    }

    [Fact]
    public async Task StopAllAsync_DuringBackoff_ExitsWithoutRestart()
    {
        var time = new ManualTimeProvider();
        await using var h = new Harness(time, initialBackoff: TimeSpan.FromSeconds(1));
        h.Supervisor.Reconcile([Harness.Shell("crashy", "exit 3")]);
        await WaitForBackoffAsync(h, time, 0);

        await h.Supervisor.StopAllAsync();

        var instance = Assert.Single(h.Supervisor.Instances);
        Assert.Equal(InstancePhase.Exited, instance.Phase);
        Assert.Equal(0, instance.Restarts);
        Assert.Empty(time.PendingDelays());
    }

    // The instance reports CrashLoopBackOff just before it arms the backoff timer; wait for both.
    private static async Task<InstanceStatus> WaitForBackoffAsync(Harness h, ManualTimeProvider time, int restarts)
    {
        var instances = await h.WaitAsync(
            i => i.Count == 1 && i[0].Phase == InstancePhase.CrashLoopBackOff && i[0].Restarts == restarts && time.PendingDelays().Count == 1,
            what: $"backoff after {restarts} restarts");
        return instances[0];
    }
}
