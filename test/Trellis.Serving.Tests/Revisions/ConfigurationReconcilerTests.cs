using Trellis.Api;
using Trellis.Serving.Revisions;
using static Trellis.Serving.Tests.Revisions.Fixtures;

namespace Trellis.Serving.Tests.Revisions;

public class ConfigurationReconcilerTests
{
    private static readonly Dictionary<string, RevisionReadiness> NoneReady = [];

    private static Resource Configuration(long generation, string target = "world", string templateName = "", bool ownedByService = true)
    {
        var svc = Service(target, generation, templateName: templateName);
        var labels = ownedByService ? new Dictionary<string, string> { [ServingLabels.Service] = "hello" } : null;
        return ServiceReconciler.Reconcile(svc, null, [], NoneReady).Configuration! with
        {
            Metadata = new ObjectMeta { Name = "hello", Namespace = "default", Generation = generation, Labels = labels },
        };
    }

    [Fact]
    public void Reconcile_FirstGeneration_CreatesRevision00001()
    {
        var result = ConfigurationReconciler.Reconcile(Configuration(1), [], NoneReady);

        var rev = result.RevisionToCreate!;
        Assert.Equal(("Revision", "hello-00001", "default"), (rev.Kind, rev.Metadata.Name, rev.Metadata.Namespace));
        Assert.Equal("hello", rev.Metadata.Labels![ServingLabels.Configuration]);
        Assert.Equal("1", rev.Metadata.Labels[ServingLabels.ConfigurationGeneration]);
        Assert.Equal("hello", rev.Metadata.Labels[ServingLabels.Service]);
        Assert.Equal("hello", rev.Metadata.Labels["app"]);
        Assert.Equal("0", rev.Metadata.Annotations!["autoscaling.knative.dev/min-scale"]);
        Assert.Equal("world", Target(rev));
        Assert.Equal("hello-00001", result.Status.LatestCreatedRevisionName);
        Assert.Null(result.Status.LatestReadyRevisionName);
        Assert.Equal(Condition.Unknown, result.Status.Ready!.Status);
    }

    [Theory]
    [InlineData(1, "hello-00001")]
    [InlineData(12, "hello-00012")]
    [InlineData(123456, "hello-123456")]
    public void RevisionName_FiveDigitGeneration(long generation, string want) =>
        Assert.Equal(want, ConfigurationReconciler.RevisionName("hello", generation));

    [Fact]
    public void Reconcile_NotOwnedByService_NoServiceLabel()
    {
        var rev = ConfigurationReconciler.Reconcile(Configuration(1, ownedByService: false), [], NoneReady).RevisionToCreate!;
        Assert.False(rev.Metadata.Labels!.ContainsKey(ServingLabels.Service));
    }

    [Fact]
    public void Reconcile_RevisionExistsAndReady_NothingToCreateAndReady()
    {
        var rev1 = ConfigurationReconciler.Reconcile(Configuration(1), [], NoneReady).RevisionToCreate!;
        var result = ConfigurationReconciler.Reconcile(Configuration(1), [rev1], Ready("hello-00001"));
        Assert.Null(result.RevisionToCreate);
        Assert.Equal("hello-00001", result.Status.LatestReadyRevisionName);
        Assert.True(result.Status.Ready!.IsTrue);
    }

    [Fact]
    public void Reconcile_NewGenerationFails_ReasonFromRevisionAndLatestReadyStays()
    {
        var rev1 = ConfigurationReconciler.Reconcile(Configuration(1), [], NoneReady).RevisionToCreate!;
        var rev2 = ConfigurationReconciler.Reconcile(Configuration(2, "mars"), [rev1], NoneReady).RevisionToCreate!;
        var readiness = new Dictionary<string, RevisionReadiness>
        {
            ["hello-00001"] = RevisionReadiness.Ready,
            ["hello-00002"] = RevisionReadiness.Failed("ExitCode1", "Container exited with code 1"),
        };

        var result = ConfigurationReconciler.Reconcile(Configuration(2, "mars"), [rev1, rev2], readiness);

        Assert.Equal("hello-00002", result.Status.LatestCreatedRevisionName);
        Assert.Equal("hello-00001", result.Status.LatestReadyRevisionName);
        var ready = result.Status.Ready!;
        Assert.Equal((Condition.False, "ExitCode1"), (ready.Status, ready.Reason));
        Assert.Contains("hello-00002", ready.Message, StringComparison.Ordinal);
        Assert.Contains("Container exited with code 1", ready.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reconcile_LatestReady_NewestReadyNotNewerThanGeneration()
    {
        var revs = new List<Resource>();
        for (var g = 1; g <= 3; g++)
        {
            revs.Add(ConfigurationReconciler.Reconcile(Configuration(g, "v" + g), revs, NoneReady).RevisionToCreate!);
        }

        var result = ConfigurationReconciler.Reconcile(Configuration(3, "v3"), revs, Ready("hello-00001", "hello-00002"));
        Assert.Equal("hello-00002", result.Status.LatestReadyRevisionName);
        Assert.Equal(Condition.Unknown, result.Status.Ready!.Status);
    }

    [Fact]
    public void Reconcile_TemplateName_UsedAsRevisionName()
    {
        var result = ConfigurationReconciler.Reconcile(Configuration(1, templateName: "hello-first"), [], NoneReady);
        Assert.Equal("hello-first", result.RevisionToCreate!.Metadata.Name);
        Assert.Equal("hello-first", result.Status.LatestCreatedRevisionName);
    }

    [Fact]
    public void Reconcile_TemplateNameReusedWithSameSpec_NoError()
    {
        var rev = ConfigurationReconciler.Reconcile(Configuration(1, templateName: "hello-first"), [], NoneReady).RevisionToCreate!;
        var result = ConfigurationReconciler.Reconcile(Configuration(2, templateName: "hello-first"), [rev], Ready("hello-first"));
        Assert.Empty(result.Errors);
        Assert.Null(result.RevisionToCreate);
        Assert.True(result.Status.Ready!.IsTrue);
    }

    [Fact]
    public void Reconcile_TemplateNameReusedWithDifferentSpec_Error()
    {
        var rev = ConfigurationReconciler.Reconcile(Configuration(1, templateName: "hello-first"), [], NoneReady).RevisionToCreate!;
        var result = ConfigurationReconciler.Reconcile(Configuration(2, "mars", templateName: "hello-first"), [rev], Ready("hello-first"));
        Assert.Contains("already exists with a different spec", Assert.Single(result.Errors), StringComparison.Ordinal);
        Assert.Null(result.RevisionToCreate);
        Assert.Equal((Condition.False, "RevisionFailed"), (result.Status.Ready!.Status, result.Status.Ready.Reason));
        Assert.Equal("hello-first", result.Status.LatestReadyRevisionName);
    }

    [Fact]
    public void Reconcile_TemplateNameWithoutPrefix_Error()
    {
        var result = ConfigurationReconciler.Reconcile(Configuration(1, templateName: "other-1"), [], NoneReady);
        Assert.Contains("must start with \"hello-\"", Assert.Single(result.Errors), StringComparison.Ordinal);
        Assert.Null(result.RevisionToCreate);
    }

    [Fact]
    public void Reconcile_RevisionInOtherNamespace_Ignored()
    {
        var rev1 = ConfigurationReconciler.Reconcile(Configuration(1), [], NoneReady).RevisionToCreate!;
        var elsewhere = rev1 with { Metadata = rev1.Metadata with { Namespace = "other" } };
        Assert.NotNull(ConfigurationReconciler.Reconcile(Configuration(1), [elsewhere], NoneReady).RevisionToCreate);
    }
}
