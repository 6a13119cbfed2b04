using System.Text.Json.Nodes;
using Trellis.Api;
using Trellis.Api.Registry;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.Events;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Tests.Events;

public sealed class EventDiffTests
{
    public static TheoryData<string?, string?, string[]> ConditionCases => new()
    {
        { null, """{"type":"Ready","status":"Unknown"}""", [] },
        { """{"type":"Ready","status":"Unknown"}""", """{"type":"Ready","status":"True"}""", ["Normal Ready Ready is True"] },
        { """{"type":"Ready","status":"True"}""", """{"type":"Ready","status":"False","reason":"RevisionFailed","message":"boom"}""", ["Warning RevisionFailed Ready is False: boom"] },
        { """{"type":"Ready","status":"True"}""", """{"type":"Ready","status":"True","reason":"Again"}""", [] },
        { null, """{"type":"Accepted","status":"False","reason":"NotAllowedByListeners"}""", ["Warning NotAllowedByListeners Accepted is False"] },
    };

    [Theory]
    [MemberData(nameof(ConditionCases))]
    public void Between_ConditionChange_OneEventPerTransitionToTrueOrFalse(string? before, string? after, string[] expected)
    {
        var previous = State(before is null ? [] : [Service(before)], []);
        var next = State(after is null ? [] : [Service(after)], []);

        var events = EventDiff.Between(previous, next);

        Assert.Equal(expected, events.Select(e => $"{e.Type} {e.Reason} {e.Message}"));
        Assert.All(events, e => Assert.Equal(new EventObject("serving.knative.dev/v1", "Service", "default", "hello"), e.Object));
    }

    [Fact]
    public void Between_PodLifecycle_StartedReadyRestartedStopped()
    {
        var starting = Instance(ready: false, restarts: 0);
        var ready = starting with { Ready = true };
        var restarted = starting with { Restarts = 1, Message = "exit code 3" };

        Assert.Equal(["Started"], Reasons(State([], []), State([], [starting])));
        Assert.Equal(["Ready"], Reasons(State([], [starting]), State([], [ready])));
        Assert.Equal(["BackOff", "Unhealthy"], Reasons(State([], [ready]), State([], [restarted])));
        Assert.Equal(["Stopped"], Reasons(State([], [restarted]), State([], [])));
        Assert.Empty(Reasons(State([], [ready]), State([], [ready])));
        var started = Assert.Single(EventDiff.Between(State([], []), State([], [starting])));
        Assert.Equal(new EventObject("apps/v1", "Deployment", "default", "hello-00001-deployment"), started.Related);
    }

    [Fact]
    public void Record_SameEventAgain_CountsUpInsteadOfAddingOne()
    {
        var log = new EventLog(TimeProvider.System);
        var draft = new EventDraft(new EventObject("v1", "Pod", "default", "p"), "Warning", "BackOff", "Restarted");

        log.Record([draft, draft, draft with { Reason = "Ready" }]);

        var events = log.List("default");
        Assert.Equal([2, 1], events.Select(e => (int)e["count"]!));
        Assert.Empty(log.List("other"));
    }

    private static string[] Reasons(MeshState previous, MeshState next) => EventDiff.Between(previous, next).Select(e => e.Reason).ToArray();

    private static Resource Service(string condition) =>
        new("serving.knative.dev/v1", "Service", new ObjectMeta { Name = "hello", Namespace = "default" }, null,
            new JsonObject { ["conditions"] = new JsonArray(JsonNode.Parse(condition)) });

    private static WorkloadInstance Instance(bool ready, int restarts) =>
        new("hello-00001-deployment-abcde", "local", "hello-00001-deployment", "default", new Dictionary<string, string>(), "127.0.0.1",
            new Dictionary<string, int>(), ready ? "Running" : "Starting", ready, restarts, DateTimeOffset.UnixEpoch, 42, null);

    private static MeshState State(IReadOnlyList<Resource> resources, IReadOnlyList<WorkloadInstance> instances) =>
        new(1, new StoreSnapshot(1, resources.ToDictionary(r => r.Key, r => new StoredResource(r, 1))), instances);
}
