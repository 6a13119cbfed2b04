using Trellis.ControlPlane.Scheduling;

namespace Trellis.ControlPlane.Tests.Scheduling;

public sealed class SchedulerTests
{
    private static readonly Dictionary<string, string> None = [];

    private static SchedulableNode Node(string name, long? cpu = null, long? memory = null, string? zone = null) =>
        new(name, zone is null ? None : new Dictionary<string, string> { ["zone"] = zone }, cpu, memory);

    private static SchedulingRequest Want(string key, int replicas, long cpu = 0, long memory = 0, Dictionary<string, string>? selector = null, Dictionary<string, int>? current = null) =>
        new(key, replicas, selector ?? None, cpu, memory, current ?? []);

    private static string Show(Placement p) =>
        string.Join(",", p.Nodes.Where(n => n.Value > 0).OrderBy(n => n.Key, StringComparer.Ordinal).Select(n => $"{n.Key}={n.Value}")) + (p.Unscheduled > 0 ? $" +{p.Unscheduled} unscheduled" : "");

    public static TheoryData<string, SchedulableNode[], SchedulingRequest[], string[]> Cases => new()
    {
        { "spreads across nodes", [Node("a"), Node("b"), Node("c")], [Want("default/web", 4)], ["a=2,b=1,c=1"] },
        { "different deployments spread over the nodes too", [Node("a"), Node("b"), Node("c")], [Want("default/a", 1), Want("default/b", 1), Want("default/c", 1)], ["a=1", "b=1", "c=1"] },
        { "keeps running replicas where they are", [Node("a"), Node("b")], [Want("default/web", 2, current: new() { ["b"] = 2 })], ["b=2"] },
        { "replicas of a dead node move to live ones", [Node("a"), Node("c")], [Want("default/web", 3, current: new() { ["a"] = 1, ["b"] = 2 })], ["a=2,c=1"] },
        { "scale-down leaves the fullest node first", [Node("a"), Node("b")], [Want("default/web", 2, current: new() { ["a"] = 2, ["b"] = 1 })], ["a=1,b=1"] },
        { "nodeSelector limits the candidates", [Node("a", zone: "x"), Node("b", zone: "y")], [Want("default/web", 2, selector: new() { ["zone"] = "y" })], ["b=2"] },
        { "a node that no longer matches loses its replicas", [Node("a", zone: "x"), Node("b", zone: "y")], [Want("default/web", 1, selector: new() { ["zone"] = "y" }, current: new() { ["a"] = 1 })], ["b=1"] },
        { "requests against capacity", [Node("a", cpu: 1000), Node("b", cpu: 1000)], [Want("default/web", 3, cpu: 500)], ["a=2,b=1"] },
        { "over capacity stays unscheduled", [Node("a", cpu: 1000)], [Want("default/web", 3, cpu: 400)], ["a=2 +1 unscheduled"] },
        { "capacity counts other deployments' running replicas", [Node("a", memory: 1024), Node("b", memory: 1024)], [Want("default/big", 1, memory: 1024, current: new() { ["a"] = 1 }), Want("default/small", 1, memory: 512)], ["a=1", "b=1"] },
        { "no node at all", [], [Want("default/web", 1)], [" +1 unscheduled"] },
        { "zero replicas place nothing", [Node("a")], [Want("default/web", 0, current: new() { ["a"] = 2 })], [""] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Schedule_Table(string name, SchedulableNode[] nodes, SchedulingRequest[] requests, string[] expected)
    {
        var placements = Scheduler.Schedule(nodes, requests);

        Assert.True(expected.SequenceEqual(requests.Select(r => Show(placements[r.Key]))), $"{name}: got {string.Join(" | ", requests.Select(r => Show(placements[r.Key])))}");
    }

    [Fact]
    public void Schedule_Unschedulable_SaysWhyAsKubeSchedulerDoes()
    {
        var placement = Scheduler.Schedule([Node("a", zone: "x"), Node("b", cpu: 100, zone: "y")], [Want("default/web", 1, cpu: 500, selector: new() { ["zone"] = "y" })])["default/web"];

        Assert.Equal(1, placement.Unscheduled);
        Assert.Equal("0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had insufficient resources for requests cpu=500m memory=0", placement.Reason);
    }

    [Theory]
    [InlineData("500m", 500L)]
    [InlineData("2", 2000L)]
    [InlineData("0.25", 250L)]
    [InlineData("1e-3", 1L)]
    [InlineData("lots", null)]
    [InlineData("-1", null)]
    public void Millicores_KubernetesQuantities(string text, long? expected) => Assert.Equal(expected, Quantity.Millicores(text));

    [Theory]
    [InlineData("128Mi", 134217728L)]
    [InlineData("1G", 1000000000L)]
    [InlineData("1Ki", 1024L)]
    [InlineData("1e3", 1000L)]
    [InlineData("12Qi", null)]
    public void Bytes_KubernetesQuantities(string text, long? expected) => Assert.Equal(expected, Quantity.Bytes(text));
}
