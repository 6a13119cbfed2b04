using Trellis.Api;
using Trellis.Api.Eventing;
using Trellis.Api.Workloads;
using Trellis.ControlPlane.Eventing;

namespace Trellis.ControlPlane.Tests.Eventing;

/// <summary>Which Deployments a SinkBinding binds (Knative's psbinding subject rules), as a table over one set of objects.</summary>
public sealed class SinkBindingPlanTests
{
    private static readonly Resource[] Deployments =
    [
        Deployment("producer", "shop", new() { ["app"] = "producer", ["tier"] = "front" }),
        Deployment("worker", "shop", new() { ["app"] = "worker" }),
        Deployment("producer", "other", new() { ["app"] = "producer" }),
        // The Deployments of two revisions of the Knative Service "orders", and one of "audit", as the serving controller writes them.
        Deployment("orders-00001-deployment", "shop", new() { ["serving.knative.dev/service"] = "orders", ["serving.knative.dev/revision"] = "orders-00001" }),
        Deployment("orders-00002-deployment", "shop", new() { ["serving.knative.dev/service"] = "orders", ["serving.knative.dev/revision"] = "orders-00002" }),
        Deployment("audit-00001-deployment", "shop", new() { ["serving.knative.dev/service"] = "audit" }),
    ];

    private static readonly Resource[] Services =
    [
        new("serving.knative.dev/v1", "Service", new ObjectMeta { Name = "orders", Namespace = "shop", Labels = new Dictionary<string, string> { ["bind"] = "yes" } }, null),
        new("serving.knative.dev/v1", "Service", new ObjectMeta { Name = "audit", Namespace = "shop" }, null),
    ];

    public static TheoryData<string, BindingSubject, string[], string?> Subjects => new()
    {
        { "DeploymentByName", new() { ApiVersion = "apps/v1", Kind = "Deployment", Name = "producer" }, ["shop/producer"], null },
        { "DeploymentBySelector", new() { ApiVersion = "apps/v1", Kind = "Deployment", Selector = new() { MatchLabels = new Dictionary<string, string> { ["tier"] = "front" } } }, ["shop/producer"], null },
        { "DeploymentByExpression", new() { ApiVersion = "apps/v1", Kind = "Deployment", Selector = new() { MatchExpressions = [new() { Key = "app", Operator = "In", Values = ["producer", "worker"] }] } }, ["shop/producer", "shop/worker"], null },
        { "KnativeServiceByName_AllItsRevisions", new() { ApiVersion = "serving.knative.dev/v1", Kind = "Service", Name = "orders" }, ["shop/orders-00001-deployment", "shop/orders-00002-deployment"], null },
        { "KnativeServiceBySelectorOnTheService", new() { ApiVersion = "serving.knative.dev/v1", Kind = "Service", Selector = new() { MatchLabels = new Dictionary<string, string> { ["bind"] = "yes" } } }, ["shop/orders-00001-deployment", "shop/orders-00002-deployment"], null },
        { "MissingDeployment", new() { ApiVersion = "apps/v1", Kind = "Deployment", Name = "gone" }, [], "Deployment shop/gone (apps/v1) does not exist" },
        { "MissingKnativeService", new() { ApiVersion = "serving.knative.dev/v1", Kind = "Service", Name = "gone" }, [], "Service shop/gone (serving.knative.dev/v1) does not exist" },
        { "SelectorSelectingNothing_IsNotMissing", new() { ApiVersion = "apps/v1", Kind = "Deployment", Selector = new() { MatchLabels = new Dictionary<string, string> { ["app"] = "none" } } }, [], null },
    };

    [Theory]
    [MemberData(nameof(Subjects))]
    public void Compute_Subject_BindsItsDeploymentsInItsNamespaceOnly(string name, BindingSubject subject, string[] bound, string? missing)
    {
        _ = name;
        var binding = new ResolvedBinding("shop", "b", Spec(subject, new() { Extensions = new Dictionary<string, string> { ["team"] = "orders" } }), "http://127.0.0.1:15080/shop/default");

        var (deployments, outcomes) = SinkBindingPlan.Compute([binding], Deployments, Services);

        Assert.Equal(bound, deployments.Where(d => d.Value is not null).Select(d => $"{d.Key.Namespace}/{d.Key.Name}").Order(StringComparer.Ordinal));
        Assert.All(deployments.Values.Where(v => v is not null), v =>
        {
            Assert.Equal("http://127.0.0.1:15080/shop/default", (string?)v!["sink"]);
            Assert.Equal("""{"extensions":{"team":"orders"}}""", (string?)v["ceOverrides"]);
            Assert.Equal("b", (string?)v["binding"]);
        });
        Assert.Equal(new BindingOutcome(bound.Length, missing), outcomes[("shop", "b")]);
        Assert.Equal(Deployments.Length, deployments.Count); // every Deployment has a verdict, so unbound ones are undone
    }

    [Fact]
    public void Compute_SinkUnresolved_BindsNothing()
    {
        var binding = new ResolvedBinding("shop", "b", Spec(new() { ApiVersion = "apps/v1", Kind = "Deployment", Name = "producer" }), SinkUri: null);

        var (deployments, _) = SinkBindingPlan.Compute([binding], Deployments, Services);

        Assert.All(deployments.Values, Assert.Null);
    }

    [Fact]
    public void Compute_TwoBindingsOfOneDeployment_TheFirstByNameWins()
    {
        var subject = new BindingSubject { ApiVersion = "apps/v1", Kind = "Deployment", Name = "producer" };
        ResolvedBinding[] bindings = [new("shop", "zz", Spec(subject), "http://z/"), new("shop", "aa", Spec(subject), "http://a/")];

        var (deployments, outcomes) = SinkBindingPlan.Compute(bindings, Deployments, Services);

        Assert.Equal("http://a/", (string?)deployments[new ResourceKey("apps", "Deployment", "shop", "producer")]!["sink"]);
        Assert.Equal(1, outcomes[("shop", "aa")].Bound);
        Assert.Equal(0, outcomes[("shop", "zz")].Bound);
    }

    [Theory]
    [InlineData(false, "")]
    [InlineData(true, "{}")]
    public void Compute_NoExtensions_OverridesAsKnativeMarshalsThem(bool empty, string expected)
    {
        var binding = new ResolvedBinding("shop", "b", Spec(new() { ApiVersion = "apps/v1", Kind = "Deployment", Name = "worker" }, empty ? new CloudEventOverrides() : null), "http://s/");

        var (deployments, _) = SinkBindingPlan.Compute([binding], Deployments, Services);

        Assert.Equal(expected, (string?)deployments[new ResourceKey("apps", "Deployment", "shop", "worker")]!["ceOverrides"]);
    }

    private static SinkBindingSpec Spec(BindingSubject subject, CloudEventOverrides? overrides = null) =>
        new() { Subject = subject, Sink = new EventDestination { Uri = "http://unused/" }, CeOverrides = overrides };

    private static Resource Deployment(string name, string ns, Dictionary<string, string> labels) =>
        new("apps/v1", "Deployment", new ObjectMeta { Name = name, Namespace = ns, Labels = labels }, new DeploymentSpec
        {
            Selector = new LabelSelector { MatchLabels = labels },
            Template = new PodTemplateSpec { Metadata = new PodTemplateMetadata { Labels = labels }, Spec = new PodSpec { Containers = [new Container { Name = "c", Command = ["x"] }] } },
        });
}
