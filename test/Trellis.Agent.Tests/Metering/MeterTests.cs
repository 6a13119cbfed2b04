using System.Diagnostics;
using Trellis.Agent.Metering;

namespace Trellis.Agent.Tests.Metering;

/// <summary>
/// The meters on real processes: a shell in its own process group (as the Runtime starts instances)
/// that holds ~40 MB and burns CPU in itself and in a child.
/// </summary>
public sealed class MeterTests
{
    // The shell keeps a 40 MB string (its VmHWM grows past it), starts a busy child in its group,
    // and burns CPU itself until killed.
    private const string Work = """
        x=$(head -c 40000000 /dev/zero | tr '\0' a)
        (while :; do :; done) &
        while :; do :; done
        """;

    [Fact]
    public async Task ProcMeter_BusyGroupWithChild_CpuAndPeakMemoryOfTheWholeGroup()
    {
        using var meter = new ProcMeter();
        using var child = Group.Start(Work);

        var usage = await SampleUntilAsync(meter, "i", child.Pid, u => u.CpuSeconds >= 1.0 && u.MemoryPeakBytes >= 40_000_000);

        Assert.InRange(usage.MemoryPeakBytes, 40_000_000, 1_000_000_000);
    }

    [Fact]
    public async Task ProcMeter_Restart_KeepsThePreviousRunsCpu()
    {
        using var meter = new ProcMeter();
        ResourceUsage first;
        using (var run = Group.Start(Work))
        {
            first = await SampleUntilAsync(meter, "i", run.Pid, u => u.CpuSeconds >= 0.3);
        }

        // Between runs (backoff) and in the next run, the total never drops below the first run's.
        Assert.True(meter.Sample([new MeteredInstance("i", null)])["i"].CpuSeconds >= first.CpuSeconds);
        using var second = Group.Start("while :; do :; done");
        var total = await SampleUntilAsync(meter, "i", second.Pid, u => u.CpuSeconds >= first.CpuSeconds + 0.3);
        Assert.Equal(first.MemoryPeakBytes, total.MemoryPeakBytes, 20_000_000.0);
    }

    [Fact]
    public void ProcMeter_NoProcess_Zero()
    {
        using var meter = new ProcMeter();

        Assert.Equal(new ResourceUsage(0, 0), meter.Sample([new MeteredInstance("i", null)])["i"]);
    }

    /// <summary>Skipped, saying why, where the agent may not create cgroup v1 groups; the /proc fallback is tested everywhere below.</summary>
    [CgroupV1Fact]
    public async Task CgroupV1Meter_WhereAvailable_MetersTheGroupAndKeepsTotalsAfterExit()
    {
        using var meter = CgroupV1Meter.TryCreate(out var reason);
        Assert.True(meter is not null, reason); // CgroupV1Fact found it available a moment ago

        var instance = "test-" + Guid.NewGuid().ToString("N")[..8];
        ResourceUsage running;
        using (var child = Group.Start(Work))
        {
            running = await SampleUntilAsync(meter, instance, child.Pid, u => u.CpuSeconds >= 1.0 && u.MemoryPeakBytes >= 40_000_000);
        }

        // The cgroup keeps the totals of exited processes: nothing is lost at the end of a run.
        var after = meter.Sample([new MeteredInstance(instance, null)])[instance];
        Assert.True(after.CpuSeconds >= running.CpuSeconds, $"{after.CpuSeconds} after exit < {running.CpuSeconds} while running");
        Assert.True(after.MemoryPeakBytes >= running.MemoryPeakBytes);
        meter.Forget(instance);
    }

    [Theory]
    [InlineData("1234 (sh) S 1 1234 1234 0 -1 4194304 1 0 0 0 54 11 5 5 20 0 1 0 9 4 1", 1234, 75)]
    [InlineData("77 (a (weird) name) R 1 70 70 0 -1 0 0 0 0 0 100 0 0 0 20 0 1 0 9 4 1", 70, 100)]
    public void ProcStat_Parse_GroupAndCpuTicks(string stat, int group, long ticks)
    {
        var parsed = ProcStat.Parse(99, stat);

        Assert.Equal(new ProcessTimes(99, group, ticks), parsed);
    }

    [Fact]
    public void InstanceMeters_AutoWithoutCgroupV1_FallsBackToProcAndSaysWhy()
    {
        var noCgroups = Directory.CreateTempSubdirectory("trellis-no-cgroups-");
        try
        {
            using var meter = InstanceMeters.Create("auto", out var note, noCgroups.FullName);

            Assert.IsType<ProcMeter>(meter);
            Assert.Equal($"no cgroup v1 cpuacct hierarchy under {noCgroups.FullName}", note);
            var error = Assert.Throws<InvalidOperationException>(() => InstanceMeters.Create("cgroup-v1", out _, noCgroups.FullName));
            Assert.Contains(note, error.Message, StringComparison.Ordinal);
        }
        finally
        {
            noCgroups.Delete(recursive: true);
        }
    }

    [Fact]
    public void InstanceMeters_UnknownKind_Throws()
    {
        Assert.Throws<ArgumentException>(() => InstanceMeters.Create("nope", out _));
    }

    private static async Task<ResourceUsage> SampleUntilAsync(IInstanceMeter meter, string instance, int group, Func<ResourceUsage, bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var usage = meter.Sample([new MeteredInstance(instance, group)])[instance];
            if (done(usage))
            {
                return usage;
            }

            Assert.True(DateTime.UtcNow < deadline, $"usage reached only {usage}");
            await Task.Delay(100);
        }
    }

    /// <summary>A shell script in its own process group (setsid), killed with its group on dispose.</summary>
    private sealed class Group : IDisposable
    {
        private readonly Process _process;

        private Group(Process process) => _process = process;

        public int Pid => _process.Id;

        public static Group Start(string script)
        {
            var start = new ProcessStartInfo("/usr/bin/setsid") { UseShellExecute = false };
            foreach (var arg in new[] { "/bin/sh", "-c", script })
            {
                start.ArgumentList.Add(arg);
            }

            return new Group(Process.Start(start)!);
        }

        public void Dispose()
        {
            Process.Start("/bin/kill", ["-KILL", "--", "-" + Pid])!.WaitForExit();
            _process.WaitForExit();
            _process.Dispose();
        }
    }

    /// <summary>A fact that is skipped, with the reason, where the agent cannot create cgroup v1 groups.</summary>
    private sealed class CgroupV1FactAttribute : FactAttribute
    {
        public CgroupV1FactAttribute()
        {
            using var meter = CgroupV1Meter.TryCreate(out var reason);
            if (meter is null)
            {
                Skip = "cgroup v1 metering is not available on this machine: " + reason;
            }
        }
    }
}
