using Trellis.Api;
using Trellis.Api.Serving;
using Trellis.Serving.Revisions;

namespace Trellis.Serving.Tests.Revisions;

/// <summary>Route resolution as a table, in the spirit of Envoy's route-table checks: traffic in, condition and
/// split out. The world: revisions hello-00001 (ready), hello-00002 (ready), hello-00003 (deploying),
/// hello-00004 (failed); configuration "hello" whose latest ready is hello-00002, "pending" with none ready yet,
/// "broken" whose only revision failed.</summary>
public class RouteReconcilerTests
{
    private static readonly string[] RevisionNames = ["hello-00001", "hello-00002", "hello-00003", "hello-00004"];

    private static readonly List<Resource> Revisions = RevisionNames
        .Select(n => new Resource(ServingLabels.ApiVersion, "Revision", new ObjectMeta { Name = n, Namespace = "default" }, null))
        .ToList();

    private static readonly Dictionary<string, RevisionReadiness> Readiness = new()
    {
        ["hello-00001"] = RevisionReadiness.Ready,
        ["hello-00002"] = RevisionReadiness.Ready,
        ["hello-00004"] = RevisionReadiness.Failed("ExitCode1"),
    };

    private static readonly Dictionary<string, ConfigurationStatus> Configurations = new()
    {
        ["hello"] = new ConfigurationStatus { LatestCreatedRevisionName = "hello-00003", LatestReadyRevisionName = "hello-00002" },
        ["pending"] = new ConfigurationStatus { Conditions = [Condition.Pending(ConditionTypes.Ready)] },
        ["broken"] = new ConfigurationStatus { Conditions = [Condition.Failed(ConditionTypes.Ready, "ExitCode1", "x")] },
    };

    private static TrafficTarget Rev(string name, long? percent, string? tag = null) => new() { RevisionName = name, Percent = percent, Tag = tag };

    private static TrafficTarget Latest(string config, long? percent, string? tag = null) => new() { ConfigurationName = config, LatestRevision = true, Percent = percent, Tag = tag };

    private static RouteResult Run(params TrafficTarget[] traffic) => Run(null, traffic);

    private static RouteResult Run(RouteStatus? previous, params TrafficTarget[] traffic)
    {
        var route = new Resource(ServingLabels.ApiVersion, "Route", new ObjectMeta { Name = "hello", Namespace = "default" }, new RouteSpec { Traffic = traffic });
        return RouteReconciler.Reconcile(route, Configurations, Revisions, Readiness, previous: previous);
    }

    public static TheoryData<string, TrafficTarget[], string, string?, string> Cases => new()
    {
        // name, traffic, AllTrafficAssigned status, reason, expected split ("rev=percent,...")
        { "latest ready of configuration", [Latest("hello", 100)], Condition.True, null, "hello-00002=100" },
        { "by revision name", [Rev("hello-00001", 100)], Condition.True, null, "hello-00001=100" },
        { "90/10 split", [Rev("hello-00001", 90), Latest("hello", 10)], Condition.True, null, "hello-00001=90,hello-00002=10" },
        { "same revision twice merges", [Rev("hello-00002", 40), Latest("hello", 60)], Condition.True, null, "hello-00002=100" },
        { "zero-percent tag stays out of the split", [Latest("hello", 100), Rev("hello-00001", 0, "old")], Condition.True, null, "hello-00002=100" },
        { "unknown revision", [Rev("hello-00009", 100)], Condition.False, "RevisionMissing", "" },
        { "revision still deploying", [Rev("hello-00003", 100)], Condition.Unknown, "RevisionMissing", "" },
        { "revision failed", [Rev("hello-00004", 100)], Condition.False, "RevisionMissing", "" },
        { "unknown configuration", [Latest("nope", 100)], Condition.False, "ConfigurationMissing", "" },
        { "configuration without ready revision", [Latest("pending", 100)], Condition.Unknown, "RevisionMissing", "" },
        { "configuration whose revisions failed", [Latest("broken", 100)], Condition.False, "RevisionMissing", "" },
        { "false beats unknown", [Rev("hello-00003", 50), Rev("hello-00009", 50)], Condition.False, "RevisionMissing", "" },
        { "percents sum to 90", [Rev("hello-00001", 80), Rev("hello-00002", 10)], Condition.False, "InvalidTraffic", "" },
        { "missing percent counts as 0", [Rev("hello-00001", null)], Condition.False, "InvalidTraffic", "" },
        { "latestRevision with revisionName", [new TrafficTarget { RevisionName = "hello-00001", LatestRevision = true, Percent = 100 }], Condition.False, "InvalidTraffic", "" },
        { "latestRevision false with configurationName", [new TrafficTarget { ConfigurationName = "hello", LatestRevision = false, Percent = 100 }], Condition.False, "InvalidTraffic", "" },
        { "both names", [new TrafficTarget { RevisionName = "hello-00001", ConfigurationName = "hello", Percent = 100 }], Condition.False, "InvalidTraffic", "" },
        { "neither name", [new TrafficTarget { Percent = 100 }], Condition.False, "InvalidTraffic", "" },
        { "percent over 100", [Rev("hello-00001", 101), Rev("hello-00002", -1)], Condition.False, "InvalidTraffic", "" },
        { "duplicate tag", [Rev("hello-00001", 50, "a"), Rev("hello-00002", 50, "a")], Condition.False, "InvalidTraffic", "" },
        { "tag not a DNS label", [Rev("hello-00001", 100, "Bad_Tag")], Condition.False, "InvalidTraffic", "" },
        { "no traffic", [], Condition.False, "InvalidTraffic", "" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Reconcile_Table(string name, TrafficTarget[] traffic, string status, string? reason, string split)
    {
        var result = Run(traffic);

        var assigned = result.Status.Conditions.Single(c => c.Type == ConditionTypes.AllTrafficAssigned);
        Assert.True(status == assigned.Status, $"{name}: {assigned}");
        Assert.Equal(reason, assigned.Reason);
        Assert.Equal(assigned.Status, result.Status.Ready!.Status);
        Assert.Equal(split, string.Join(",", result.Table.Split.Select(s => $"{s.RevisionName}={s.Percent}")));
        Assert.Equal(assigned.Status == Condition.False && reason == "InvalidTraffic", result.Errors.Count > 0);
    }

    [Fact]
    public void Reconcile_Tags_OwnHostsAndUrls()
    {
        var result = Run(Latest("hello", 90, "current"), Rev("hello-00001", 10, "previous"));

        Assert.Equal("http://hello.default.example.com", result.Status.Url);
        var previous = result.Table.Tags["previous"];
        Assert.Equal(("hello-00001", "previous-hello.default.example.com", "http://previous-hello.default.example.com"), (previous.RevisionName, previous.Host, previous.Url));
        Assert.Equal("hello-00002", result.Table.Tags["current"].RevisionName);
        var hosts = result.Table.Hosts().ToDictionary(h => h.Host, h => h.Split);
        Assert.Equal(3, hosts.Count);
        Assert.Equal(100, Assert.Single(hosts["previous-hello.default.example.com"]).Percent);

        var status = result.Status.Traffic;
        Assert.Equal([true, false], status.Select(t => t.LatestRevision == true));
        Assert.Equal("http://current-hello.default.example.com", status[0].Url);
        Assert.Equal("hello-00002", status[0].RevisionName);
    }

    [Fact]
    public void Reconcile_Unresolvable_KeepsPreviousTraffic()
    {
        var good = Run(Rev("hello-00001", 100));
        var bad = Run(good.Status, Rev("hello-00003", 100));
        Assert.Equal(Condition.Unknown, bad.Status.Ready!.Status);
        Assert.Equal("hello-00001", Assert.Single(bad.Table.Split).RevisionName);
        Assert.Equal("hello-00001", Assert.Single(bad.Status.Traffic).RevisionName);
    }

    [Fact]
    public void Reconcile_ValidationErrors_EachReportedWithPath()
    {
        var result = Run(new TrafficTarget { RevisionName = "hello-00001", LatestRevision = true, Percent = 50, Tag = "x" }, Rev("hello-00002", 20, "x"));
        Assert.Contains(result.Errors, e => e.StartsWith("spec.traffic[0].latestRevision", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("spec.traffic[1].tag", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.Contains("sum to 70", StringComparison.Ordinal));
    }
}
