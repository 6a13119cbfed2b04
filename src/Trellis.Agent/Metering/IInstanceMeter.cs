namespace Trellis.Agent.Metering;

/// <summary>An instance to meter and the process group of its current run (null while no process runs).</summary>
public readonly record struct MeteredInstance(string Instance, int? ProcessGroup);

/// <summary>CPU-seconds and peak memory of one instance over all its runs so far.</summary>
public readonly record struct ResourceUsage(double CpuSeconds, long MemoryPeakBytes);

/// <summary>
/// Measures the processes of revision instances. Two implementations, chosen by
/// <see cref="InstanceMeters.Create"/>: cgroup v1 where the agent may create cgroups, /proc otherwise.
/// </summary>
public interface IInstanceMeter : IDisposable
{
    /// <summary><c>cgroup-v1</c> or <c>proc</c>.</summary>
    string Kind { get; }

    /// <summary>
    /// The usage of each instance (cumulative over its runs; never decreasing). Called by one
    /// caller at a time, about once a second.
    /// </summary>
    IReadOnlyDictionary<string, ResourceUsage> Sample(IReadOnlyList<MeteredInstance> instances);

    /// <summary>The instance is gone for good and has been reported; release what it held.</summary>
    void Forget(string instance);
}
