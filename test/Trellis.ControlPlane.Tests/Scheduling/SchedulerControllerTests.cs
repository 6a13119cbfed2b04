using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Api.Registry;
using Trellis.ControlPlane.Leadership;
using Trellis.ControlPlane.Registry;
using Trellis.ControlPlane.Scheduling;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Tests.Scheduling;

public sealed class SchedulerControllerTests : IDisposable
{
    private const string Web = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: default}
        spec:
          replicas: 3
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: web
                command: [web]
                resources: {requests: {cpu: 100m, memory: 64Mi}}
        """;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-sched-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static NodeStatus Node(string name) => new(name, null, []) { Address = "10.0.0." + name.Length, Capacity = new NodeCapacity(2000, 1L << 30) };

    [Fact]
    public async Task Schedule_RecordsPlacementInStatus_AndMovesReplicasOffANodeThatLeft()
    {
        await using var store = FileResourceStore.Open(_dir);
        var registry = new ServiceRegistry();
        registry.Report(Node("a"));
        registry.Report(Node("b"));
        await using var scheduler = new SchedulerController(store, registry, new SoleLeadership("cp", null), TimeProvider.System, NullLogger<SchedulerController>.Instance);
        await store.WriteAsync([new PutOperation(TestResources.One(Web))]);
        var key = new Trellis.Api.ResourceKey("apps", "Deployment", "default", "web");

        await scheduler.ScheduleOnceAsync();

        var placed = store.Snapshot.Get(key)!.Resource;
        Assert.Equal(2, Placements.ReplicasOn(placed, "a"));
        Assert.Equal(1, Placements.ReplicasOn(placed, "b"));
        Assert.Equal("True", (string?)placed.Status!["conditions"]![0]!["status"]);

        registry.Remove("b");
        await scheduler.ScheduleOnceAsync();

        Assert.Equal(3, Placements.ReplicasOn(store.Snapshot.Get(key)!.Resource, "a"));
        Assert.Equal(0, Placements.ReplicasOn(store.Snapshot.Get(key)!.Resource, "b"));
    }

    [Fact]
    public async Task Schedule_NothingChanged_WritesNothing()
    {
        await using var store = FileResourceStore.Open(_dir);
        var registry = new ServiceRegistry();
        registry.Report(Node("a"));
        await using var scheduler = new SchedulerController(store, registry, new SoleLeadership("cp", null), TimeProvider.System, NullLogger<SchedulerController>.Instance);
        await store.WriteAsync([new PutOperation(TestResources.One(Web))]);
        await scheduler.ScheduleOnceAsync();
        var revision = store.Snapshot.Revision;

        await scheduler.ScheduleOnceAsync();

        Assert.Equal(revision, store.Snapshot.Revision);
    }
}
