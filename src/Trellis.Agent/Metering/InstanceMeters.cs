namespace Trellis.Agent.Metering;

/// <summary>Chooses the <see cref="IInstanceMeter"/> by name: <c>auto</c> (cgroup v1 where possible, else /proc), <c>cgroup-v1</c>, <c>proc</c>.</summary>
public static class InstanceMeters
{
    public static IInstanceMeter Create(string kind, out string note)
    {
        switch (kind)
        {
            case "proc":
                note = "";
                return new ProcMeter();
            case "auto" or "cgroup-v1":
                if (CgroupV1Meter.TryCreate(out var reason) is { } cgroups)
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
