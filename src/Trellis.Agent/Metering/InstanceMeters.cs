namespace Trellis.Agent.Metering;

/// <summary>Chooses the <see cref="IInstanceMeter"/> by name: <c>auto</c> (cgroup v1 where possible, else /proc), <c>cgroup-v1</c>, <c>proc</c>.</summary>
public static class InstanceMeters
{
    /// <param name="kind">auto, cgroup-v1 or proc.</param>
    /// <param name="note">Why <c>auto</c> fell back to /proc; empty otherwise.</param>
    /// <param name="cgroupRoot">Where the cgroup v1 hierarchies are mounted (a test points it elsewhere).</param>
    public static IInstanceMeter Create(string kind, out string note, string cgroupRoot = "/sys/fs/cgroup")
    {
        switch (kind)
        {
            case "proc":
                note = "";
                return new ProcMeter();
            case "auto" or "cgroup-v1":
                if (CgroupV1Meter.TryCreate(out var reason, cgroupRoot) is { } cgroups)
                {
                    note = "";
                    return cgroups;
                }

                if (kind == "cgroup-v1")
                {
                    throw new InvalidOperationException("cgroup v1 metering is not available: " + reason);
                }

                note = reason;
                return new ProcMeter();
            default:
                throw new ArgumentException($"unknown meter '{kind}' (auto, cgroup-v1, proc)", nameof(kind));
        }
    }
}
