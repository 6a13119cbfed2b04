using Trellis.Api;
using Trellis.Api.Serving;
using Trellis.Serving.Revisions;
using static Trellis.Serving.Tests.Revisions.Fixtures;

namespace Trellis.Serving.Tests.Revisions;

public class ServiceReconcilerTests
{
    private static readonly Dictionary<string, RevisionReadiness> NoneReady = [];

    [Fact]
    public void Reconcile_FirstApply_OwnsConfigurationRouteAndFirstRevision()
    {
        var result = ServiceReconciler.Reconcile(Service(), null, [], NoneReady);

        Assert.Empty(result.Errors);
        var config = result.Configuration!;
        Assert.Equal(("Configuration", "hello", 1L), (config.Kind, config.Metadata.Name, config.Metadata.Generation!.Value));
        Assert.Equal("hello", config.Metadata.Labels![ServingLabels.Service]);
        var route = result.Route!;
        Assert.Equal(("Route", "hello"), (route.Kind, route.Metadata.Name));
        var target = Assert.Single(route.GetSpec<RouteSpec>().Traffic);
        Assert.Equal(("hello", true, 100L), (target.ConfigurationName, target.LatestRevision!.Value, target.Percent!.Value));
        Assert.Equal("hello-00001", result.RevisionToCreate!.Metadata.Name);

        var status = result.Status;
        Assert.Equal("http://hello.default.example.com", status.Url);
        Assert.Equal("hello-00001", status.LatestCreatedRevisionName);
        Assert.Null(status.LatestReadyRevisionName);
        Assert.Equal(Condition.Unknown, status.Condition(ConditionTypes.Ready)!.Status);
        Assert.Equal(Condition.Unknown, status.Condition(ConditionTypes.ConfigurationsReady)!.Status);
        Assert.Equal((Condition.Unknown, "RevisionMissing"), (status.Condition(ConditionTypes.RoutesReady)!.Status, status.Condition(ConditionTypes.RoutesReady)!.Reason));
    }

    [Fact]
    public void Reconcile_RevisionReady_ServiceReadyWithTraffic()
    {
        var (result, _, _) = Converge(Service(), [], null, Ready("hello-00001"));

        var status = result.Status;
        Assert.True(status.Condition(ConditionTypes.Ready)!.IsTrue);
        Assert.True(status.Condition(ConditionTypes.ConfigurationsReady)!.IsTrue);
        Assert.True(status.Condition(ConditionTypes.RoutesReady)!.IsTrue);
        Assert.Equal("hello-00001", status.LatestReadyRevisionName);
        var t = Assert.Single(status.Traffic);
        Assert.Equal(("hello-00001", 100L, true), (t.RevisionName, t.Percent!.Value, t.LatestRevision!.Value));
        Assert.Equal("hello-00001", Assert.Single(result.Traffic!.Split).RevisionName);
    }

    [Fact]
    public void Reconcile_CustomDomain_InUrls()
    {
        var options = new ServingOptions { Domain = "127.0.0.1.sslip.io" };
        var result = ServiceReconciler.Reconcile(Service(extra: "  traffic: [{latestRevision: true, percent: 100, tag: live}]"), null, [], Ready("hello-00001"), options);
        Assert.Equal("http://hello.default.127.0.0.1.sslip.io", result.Status.Url);
        Assert.Equal("live-hello.default.127.0.0.1.sslip.io", result.Traffic!.Tags["live"].Host);
    }

    [Fact]
    public void Reconcile_UnchangedTemplate_SameGenerationNoNewRevision()
    {
        var (first, revisions, config) = Converge(Service(), [], null, Ready("hello-00001"));
        var again = ServiceReconciler.Reconcile(Service(generation: 2), config, revisions, Ready("hello-00001"), previousRoute: first.RouteStatus);
        Assert.Equal(1, again.Configuration!.Metadata.Generation);
        Assert.Null(again.RevisionToCreate);
        Assert.True(again.Status.Condition(ConditionTypes.Ready)!.IsTrue);
    }

    [Fact]
    public void Reconcile_TemplateChange_NewRevisionTrafficStaysUntilReady()
    {
        var (v1, revisions, config) = Converge(Service(), [], null, Ready("hello-00001"));

        var (v2, revisions2, _) = Converge(Service("mars", generation: 2), revisions, config, Ready("hello-00001"), v1.RouteStatus);

        Assert.Equal(["hello-00001", "hello-00002"], revisions2.Select(r => r.Metadata.Name));
        Assert.Equal("mars", Target(revisions2[1]));
        Assert.Equal(("hello-00002", "hello-00001"), (v2.Status.LatestCreatedRevisionName, v2.Status.LatestReadyRevisionName));
        Assert.Equal("hello-00001", Assert.Single(v2.Status.Traffic).RevisionName);
        Assert.Equal(Condition.Unknown, v2.Status.Condition(ConditionTypes.Ready)!.Status);
        Assert.True(v2.Status.Condition(ConditionTypes.RoutesReady)!.IsTrue);

        var (ready, _, _) = Converge(Service("mars", generation: 2), revisions2, config, Ready("hello-00001", "hello-00002"), v2.RouteStatus);
        Assert.Equal("hello-00002", Assert.Single(ready.Status.Traffic).RevisionName);
        Assert.True(ready.Status.Condition(ConditionTypes.Ready)!.IsTrue);
    }

    [Fact]
    public void Reconcile_NewRevisionFails_ReadyFalseWithReasonTrafficOnLastReady()
    {
        var (v1, revisions, config) = Converge(Service(), [], null, Ready("hello-00001"));
        var readiness = new Dictionary<string, RevisionReadiness>
        {
            ["hello-00001"] = RevisionReadiness.Ready,
            ["hello-00002"] = RevisionReadiness.Failed("ExitCode1", "exited with code 1 before the port opened"),
        };

        var (v2, _, _) = Converge(Service("mars", generation: 2), revisions, config, readiness, v1.RouteStatus);

        var ready = v2.Status.Condition(ConditionTypes.Ready)!;
        Assert.Equal((Condition.False, "ExitCode1"), (ready.Status, ready.Reason));
        Assert.Contains("exited with code 1", ready.Message, StringComparison.Ordinal);
        Assert.True(v2.Status.Condition(ConditionTypes.ConfigurationsReady)!.IsFalse);
        Assert.True(v2.Status.Condition(ConditionTypes.RoutesReady)!.IsTrue);
        Assert.Equal("hello-00001", Assert.Single(v2.Status.Traffic).RevisionName);
    }

    [Fact]
    public void Reconcile_FirstRevisionFails_RoutesReadyFalseToo()
    {
        var (result, _, _) = Converge(Service(), [], null, new Dictionary<string, RevisionReadiness> { ["hello-00001"] = RevisionReadiness.Failed("ProgressDeadlineExceeded") });
        Assert.Equal("ProgressDeadlineExceeded", result.Status.Condition(ConditionTypes.Ready)!.Reason);
        Assert.Equal((Condition.False, "RevisionMissing"), (result.Status.Condition(ConditionTypes.RoutesReady)!.Status, result.Status.Condition(ConditionTypes.RoutesReady)!.Reason));
        Assert.Empty(result.Status.Traffic);
    }

    [Fact]
    public void Reconcile_SplitWithTags_ResolvedNamesAndTagUrls()
    {
        var (v1, revisions, config) = Converge(Service(), [], null, Ready("hello-00001"));
        const string traffic = """
              traffic:
              - {revisionName: hello-00001, percent: 90, tag: stable}
              - {latestRevision: true, percent: 10, tag: candidate}
            """;
        var (v2, _, _) = Converge(Service("mars", 2, traffic), revisions, config, Ready("hello-00001", "hello-00002"), v1.RouteStatus);

        Assert.True(v2.Status.Condition(ConditionTypes.Ready)!.IsTrue);
        Assert.Equal(
            ["stable:hello-00001:90:http://stable-hello.default.example.com", "candidate:hello-00002:10:http://candidate-hello.default.example.com"],
            v2.Status.Traffic.Select(t => $"{t.Tag}:{t.RevisionName}:{t.Percent}:{t.Url}"));
        Assert.Equal("hello-00001=90,hello-00002=10", string.Join(",", v2.Traffic!.Split.Select(s => $"{s.RevisionName}={s.Percent}")));
    }

    [Fact]
    public void Reconcile_UnknownRevisionInTraffic_RoutesReadyFalseRevisionMissing()
    {
        var (result, _, _) = Converge(Service(extra: "  traffic: [{revisionName: hello-00042, percent: 100}]"), [], null, Ready("hello-00001"));
        var routes = result.Status.Condition(ConditionTypes.RoutesReady)!;
        Assert.Equal((Condition.False, "RevisionMissing"), (routes.Status, routes.Reason));
        Assert.Contains("hello-00042", routes.Message, StringComparison.Ordinal);
        Assert.Equal((Condition.False, "RevisionMissing"), (result.Status.Condition(ConditionTypes.Ready)!.Status, result.Status.Condition(ConditionTypes.Ready)!.Reason));
    }

    public static TheoryData<TrafficTarget[], string> InvalidTraffic => new()
    {
        { [new() { LatestRevision = true, Percent = 60 }, new() { RevisionName = "hello-00001", Percent = 30 }], "sum to 90" },
        { [new() { RevisionName = "hello-00001", LatestRevision = true, Percent = 100 }], "latestRevision" },
        { [new() { ConfigurationName = "other", Percent = 100 }], "configurationName" },
        { [new() { Percent = 50, Tag = "a" }, new() { Percent = 50, Tag = "a" }], "multiple definitions for tag" },
    };

    // Trellis.Api rejects most of these when reading YAML already; the reconciler must not rely on that.
    [Theory]
    [MemberData(nameof(InvalidTraffic))]
    public void Reconcile_InvalidTraffic_ErrorAndNothingToWrite(TrafficTarget[] traffic, string expected)
    {
        var service = Service();
        service = service with { Spec = service.GetSpec<KnativeServiceSpec>() with { Traffic = traffic } };
        var result = ServiceReconciler.Reconcile(service, null, [], NoneReady);
        Assert.Contains(result.Errors, e => e.Contains(expected, StringComparison.Ordinal));
        Assert.Null(result.Configuration);
        Assert.Null(result.Route);
        Assert.Null(result.RevisionToCreate);
        Assert.Equal((Condition.False, "InvalidSpec"), (result.Status.Condition(ConditionTypes.Ready)!.Status, result.Status.Condition(ConditionTypes.Ready)!.Reason));
    }

    [Fact]
    public void Status_ToJson_KnativeShape()
    {
        var (result, _, _) = Converge(Service(), [], null, Ready("hello-00001"));
        var json = result.Status.ToJson();
        Assert.Equal("http://hello.default.example.com", (string?)json["url"]);
        Assert.Equal("hello-00001", (string?)json["latestReadyRevisionName"]);
        Assert.Equal("Ready", (string?)json["conditions"]![0]!["type"]);
        Assert.Equal("True", (string?)json["conditions"]![0]!["status"]);
        Assert.Equal("hello-00001", (string?)json["traffic"]![0]!["revisionName"]);
        Assert.NotNull(result.ConfigurationStatus!.ToJson()["latestCreatedRevisionName"]);
        Assert.NotNull(result.RouteStatus!.ToJson()["url"]);
    }
}
