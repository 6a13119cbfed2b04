using Trellis.Api.Registry;
using Trellis.ControlPlane.Registry;

namespace Trellis.ControlPlane.Tests.Registry;

public sealed class ServiceRegistryTests
{
    [Fact]
    public void ExpireStale_NodeSilentPastTimeout_IsDroppedAndChangeRaised()
    {
        var time = new SettableTime();
        var registry = new ServiceRegistry(time);
        var changes = 0;
        registry.Changed += () => changes++;
        registry.Report(new NodeStatus("n1", null, [Instance("a")]));
        registry.Report(new NodeStatus("n2", null, [Instance("b")]));

        time.Now += TimeSpan.FromSeconds(20);
        registry.Report(new NodeStatus("n2", null, [Instance("b")])); // heartbeat: unchanged, no change event
        time.Now += TimeSpan.FromSeconds(15);
        registry.ExpireStale();

        Assert.Equal(["b"], registry.Instances.Select(i => i.Id));
        Assert.Equal(3, changes);
        Assert.Null(registry.AgentUrlOf("n1"));
    }

    private static WorkloadInstance Instance(string id) =>
        new(id, "n", "w", "default", new Dictionary<string, string>(), "127.0.0.1", new Dictionary<string, int> { ["app"] = 1 }, "Ready", true, 0, null, null, null);

    private sealed class SettableTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = DateTimeOffset.UnixEpoch;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
