using Trellis.Api.Snapshots;

namespace Trellis.Proxy.Serving;

/// <summary>
/// The queue-proxy duties of one listener in one compiled snapshot: its config and, when
/// containerConcurrency limits it, the breaker. The breaker is carried into the next snapshot while
/// its limits stay the same, so a config push never forgets who holds a slot.
/// </summary>
internal sealed class InstanceServing
{
    private InstanceServing(InstanceServingConfig config, InstanceBreaker? breaker)
    {
        Config = config;
        Breaker = breaker;
    }

    public InstanceServingConfig Config { get; }

    /// <summary>Null when containerConcurrency is 0 (unlimited).</summary>
    public InstanceBreaker? Breaker { get; }

    public static InstanceServing Create(InstanceServingConfig config, InstanceServing? previous)
    {
        if (config.ContainerConcurrency <= 0)
        {
            return new InstanceServing(config, null);
        }

        // Changed limits get a fresh breaker; requests admitted by the old one release to it, so for
        // a moment both limits count (Knative never changes them on a running instance).
        var breaker = previous?.Breaker is { } old && old.Capacity == config.ContainerConcurrency && old.QueueDepth == config.QueueDepth
            ? old
            : new InstanceBreaker(config.ContainerConcurrency, config.QueueDepth);
        return new InstanceServing(config, breaker);
    }
}
