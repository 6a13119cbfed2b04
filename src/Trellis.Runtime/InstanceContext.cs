using Microsoft.Extensions.Logging;

namespace Trellis.Runtime;

/// <summary>What every instance of one supervisor shares: settings, clock, prober, the lock over
/// all instance state, and the callback that tells the supervisor something changed.</summary>
internal sealed class InstanceContext(
    SupervisorOptions options,
    TimeProvider time,
    ILogger logger,
    ReadinessProber prober,
    Func<Func<WorkloadSpec, IReadOnlyDictionary<string, int>, IReadOnlyDictionary<string, string>>?> extraEnv,
    Action<Instance> changed)
{
    /// <summary>One lock for the supervisor and all its instances: state changes are rare and
    /// short, and a single lock makes a snapshot of the node consistent.</summary>
    public Lock Gate { get; } = new();

    public SupervisorOptions Options => options;

    public TimeProvider Time => time;

    public ILogger Logger => logger;

    public ReadinessProber Prober => prober;

    /// <summary>Where started process groups are recorded for the next supervisor (Records/ProcessRecords.cs).</summary>
    public Records.ProcessRecords? Records { get; init; }

    /// <summary>The node's pre-warmed hosts; null when the pool is off.</summary>
    public Pool.WarmPool? Pool { get; init; }

    public Func<WorkloadSpec, IReadOnlyDictionary<string, int>, IReadOnlyDictionary<string, string>>? ExtraEnv => extraEnv();

    public void Changed(Instance instance) => changed(instance);
}
