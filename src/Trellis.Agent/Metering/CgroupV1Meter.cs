using System.Globalization;

namespace Trellis.Agent.Metering;

/// <summary>
/// Meters with cgroup v1: each instance gets <c>trellis/&lt;instance&gt;</c> in the cpuacct and
/// memory hierarchies, under the agent's own cgroups. The kernel then counts everything the
/// instance's processes do, including children that leave the process group or exit between
/// samples, and keeps the totals after the processes are gone, so an exited instance's last report
/// is exact. CPU is <c>cpuacct.usage</c>; peak memory <c>memory.max_usage_in_bytes</c> (which, as
/// cgroup v1 counts, includes page cache).
/// <para>
/// Processes join their cgroup when the agent first sees them running (within milliseconds of the
/// start, from the supervisor's change event), not at fork: the Runtime starts them, and a
/// pre-warmed process may be started before it belongs to any instance. So the CPU the group used
/// before joining is read from /proc at that moment and added; the memory cgroup is asked to move the
/// joining processes' charges along (<c>memory.move_charge_at_immigrate</c>), and since recent
/// kernels ignore that, the peak is also never below the members' summed VmHWM.
/// </para>
/// </summary>
internal sealed class CgroupV1Meter : IInstanceMeter
{
    private readonly string _cpuRoot;
    private readonly string _memoryRoot;
    private readonly string _procRoot;
    private readonly Dictionary<string, State> _states = new(StringComparer.Ordinal);

    private CgroupV1Meter(string cpuRoot, string memoryRoot, string procRoot)
    {
        _cpuRoot = cpuRoot;
        _memoryRoot = memoryRoot;
        _procRoot = procRoot;
    }

    public string Kind => "cgroup-v1";

    /// <summary>
    /// The meter, if cgroup v1 cpuacct and memory hierarchies are mounted under
    /// <paramref name="cgroupRoot"/> and the agent may create its <c>trellis</c> cgroups there;
    /// otherwise null and why.
    /// </summary>
    public static CgroupV1Meter? TryCreate(out string reason, string cgroupRoot = "/sys/fs/cgroup", string procRoot = "/proc")
    {
        var own = OwnCgroups(procRoot);
        string? cpu = null, memory = null;
        try
        {
            cpu = Prepare(cgroupRoot, "cpuacct", own, "cpuacct.usage");
            memory = Prepare(cgroupRoot, "memory", own, "memory.max_usage_in_bytes");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason = e.Message;
            return null;
        }

        if (cpu is null || memory is null)
        {
            reason = $"no cgroup v1 {(cpu is null ? "cpuacct" : "memory")} hierarchy under {cgroupRoot}";
            return null;
        }

        reason = "";
        return new CgroupV1Meter(cpu, memory, procRoot);
    }

    public IReadOnlyDictionary<string, ResourceUsage> Sample(IReadOnlyList<MeteredInstance> instances)
    {
        List<ProcessTimes>? processes = null;
        var result = new Dictionary<string, ResourceUsage>(StringComparer.Ordinal);
        foreach (var (instance, group) in instances)
        {
            if (!_states.TryGetValue(instance, out var state))
            {
                state = new State(Path.Combine(_cpuRoot, instance), Path.Combine(_memoryRoot, instance));
                Directory.CreateDirectory(state.Cpu);
                Directory.CreateDirectory(state.Memory);
                TryWrite(Path.Combine(state.Memory, "memory.move_charge_at_immigrate"), "3");
                _states[instance] = state;
            }

            if (group is { } g && state.Joined != g)
            {
                processes ??= ProcStat.All(_procRoot);
                Join(state, processes.Where(p => ProcStat.InGroup(p, g)).ToList());
                state.Joined = g;
            }

            var cpu = state.CpuBeforeJoining + (ReadLong(Path.Combine(state.Cpu, "cpuacct.usage")) / 1e9);
            state.Peak = Math.Max(state.Peak, Math.Max(ReadLong(Path.Combine(state.Memory, "memory.max_usage_in_bytes")), MembersPeakResident(state)));
            result[instance] = new ResourceUsage(cpu, state.Peak);
        }

        return result;
    }

    public void Forget(string instance)
    {
        if (_states.Remove(instance, out var state))
        {
            Remove(state);
        }
    }

    public void Dispose()
    {
        foreach (var state in _states.Values)
        {
            Remove(state);
        }

        _states.Clear();
    }

    private void Join(State state, List<ProcessTimes> members)
    {
        long resident = 0;
        foreach (var member in members)
        {
            state.CpuBeforeJoining += member.CpuTicks / ProcStat.TicksPerSecond;
            resident += ProcStat.PeakResidentBytes(_procRoot, member.Pid);
            var pid = member.Pid.ToString(CultureInfo.InvariantCulture);
            TryWrite(Path.Combine(state.Cpu, "cgroup.procs"), pid);
            TryWrite(Path.Combine(state.Memory, "cgroup.procs"), pid);
        }

        state.Peak = Math.Max(state.Peak, resident);
    }

    /// <summary>
    /// Σ VmHWM of the cgroup's processes: memory charged before a process joined stays with its old
    /// cgroup where the kernel no longer moves charges (move_charge_at_immigrate is deprecated and
    /// ignored by recent kernels), so max_usage_in_bytes alone would miss the runtime's start-up pages.
    /// </summary>
    private long MembersPeakResident(State state)
    {
        long sum = 0;
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(state.Memory, "cgroup.procs")))
            {
                if (int.TryParse(line, CultureInfo.InvariantCulture, out var pid))
                {
                    sum += ProcStat.PeakResidentBytes(_procRoot, pid);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return sum;
    }

    /// <summary>Empty cgroups are removed with rmdir; one still holding a straggler stays (and is reused if the name comes back).</summary>
    private static void Remove(State state)
    {
        foreach (var dir in new[] { state.Cpu, state.Memory })
        {
            try
            {
                Directory.Delete(dir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>
    /// <c>{root}/{controller}{own path}/trellis</c>, created; null when the controller is not a v1
    /// hierarchy there. Inside a container without a cgroup namespace the own path may not exist
    /// under the mount (it shows the container's subtree as its root); the mount root is used then.
    /// </summary>
    private static string? Prepare(string root, string controller, IReadOnlyDictionary<string, string> own, string probeFile)
    {
        var mount = Path.Combine(root, controller);
        if (!File.Exists(Path.Combine(mount, probeFile)))
        {
            return null;
        }

        var parent = own.TryGetValue(controller, out var path) && Directory.Exists(mount + path) ? mount + path : mount;
        var trellis = Path.Combine(parent, "trellis");
        Directory.CreateDirectory(trellis);
        return trellis;
    }

    /// <summary>The agent's own cgroup per v1 controller, from /proc/self/cgroup (<c>4:memory:/a/b</c>, <c>3:cpu,cpuacct:/</c>).</summary>
    private static Dictionary<string, string> OwnCgroups(string procRoot)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(procRoot, "self", "cgroup")))
            {
                var parts = line.Split(':', 3);
                if (parts.Length == 3)
                {
                    foreach (var controller in parts[1].Split(','))
                    {
                        result[controller] = parts[2].TrimEnd('/');
                    }
                }
            }
        }
        catch (IOException)
        {
        }

        return result;
    }

    private static long ReadLong(string file)
    {
        try
        {
            return long.TryParse(File.ReadAllText(file).Trim(), CultureInfo.InvariantCulture, out var value) ? value : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>A process that exited before it could join fails with ESRCH; it is simply not moved.</summary>
    private static void TryWrite(string file, string value)
    {
        try
        {
            File.WriteAllText(file, value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private sealed class State(string cpu, string memory)
    {
        public string Cpu { get; } = cpu;
        public string Memory { get; } = memory;
        public int? Joined;
        public double CpuBeforeJoining;
        public long Peak;
    }
}
