namespace Trellis.Agent.Metering;

/// <summary>
/// Meters from /proc alone: an instance's CPU is the sum over its process group (one scan of
/// /proc/*/stat per sample), its peak memory the highest sum of the members' VmHWM seen. What this
/// cannot see: CPU a member used after the last sample before it exited unreaped by another member
/// (so up to one sample interval at the end of a run), members that left the group, and memory
/// peaks between samples of processes that then exited.
/// </summary>
internal sealed class ProcMeter : IInstanceMeter
{
    private readonly string _procRoot;
    private readonly Dictionary<string, State> _states = new(StringComparer.Ordinal);

    public ProcMeter(string procRoot = "/proc") => _procRoot = procRoot;

    public string Kind => "proc";

    public IReadOnlyDictionary<string, ResourceUsage> Sample(IReadOnlyList<MeteredInstance> instances)
    {
        var processes = instances.Any(i => i.ProcessGroup is not null) ? ProcStat.All(_procRoot) : [];
        var result = new Dictionary<string, ResourceUsage>(StringComparer.Ordinal);
        foreach (var (instance, group) in instances)
        {
            if (!_states.TryGetValue(instance, out var state))
            {
                _states[instance] = state = new State();
            }

            if (group != state.Group)
            {
                // A new run (restart): the last run's CPU is final.
                state.PreviousRuns += state.Run;
                state.Run = 0;
                state.Group = group;
            }

            if (group is { } g)
            {
                long ticks = 0, resident = 0;
                foreach (var p in processes)
                {
                    if (ProcStat.InGroup(p, g))
                    {
                        ticks += p.CpuTicks;
                        resident += ProcStat.PeakResidentBytes(_procRoot, p.Pid);
                    }
                }

                // Members that exit unreaped take their time with them; a counter never goes back.
                state.Run = Math.Max(state.Run, ticks / ProcStat.TicksPerSecond);
                state.Peak = Math.Max(state.Peak, resident);
            }

            result[instance] = new ResourceUsage(state.PreviousRuns + state.Run, state.Peak);
        }

        return result;
    }

    public void Forget(string instance) => _states.Remove(instance);

    public void Dispose()
    {
    }

    private sealed class State
    {
        public int? Group;
        public double PreviousRuns;
        public double Run;
        public long Peak;
    }
}
