using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Api;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.Api.Workloads;
using Trellis.ControlPlane.Compiler;
using Trellis.ControlPlane.Registry;
using Trellis.ControlPlane.Serving;
using Trellis.ControlPlane.Store;

namespace Trellis.ControlPlane.Tests.Serving;

// IAsyncLifetime, not IAsyncDisposable: xunit 2 never calls a test class's DisposeAsync, and each
// test's store folder stayed in /tmp (TestClassesTests checks this for the whole assembly).
public sealed class ServingControllerTests : IAsyncLifetime
{
    private const string Hello = """
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata: {name: hello}
        spec:
          template:
            metadata:
              annotations: {autoscaling.knative.dev/min-scale: "0", autoscaling.knative.dev/target: "10"}
            spec:
              containerConcurrency: 20
              timeoutSeconds: 30
              containers:
              - command: ["dotnet", "samples/functions/hello/bin/hello.dll"]
                env: [{name: TARGET, value: world}]
        """;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-serving-" + Guid.NewGuid().ToString("N"));
    private readonly FileResourceStore _store;
    private readonly ServiceRegistry _registry = new();
    private readonly ServingController _controller;

    public ServingControllerTests()
    {
        _store = FileResourceStore.Open(_dir);
        _controller = new ServingController(_store, _registry, new RevisionScalers(TimeProvider.System), TimeProvider.System, NullLogger<ServingController>.Instance, TimeSpan.FromHours(1));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _controller.DisposeAsync();
        await _store.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Reconcile_NewService_CreatesRevisionAndItsDeploymentAtInitialScale()
    {
        await _store.WriteAsync([new PutOperation(TestResources.One(Hello))]);

        await _controller.ReconcileOnceAsync();
        await _controller.ReconcileOnceAsync();

        var revision = Get("serving.knative.dev", "Revision", "hello-00001");
        Assert.Equal("hello", revision.Metadata.Labels!["serving.knative.dev/service"]);
        var deployment = Get("apps", "Deployment", "hello-00001-deployment");
        var spec = (DeploymentSpec)deployment.Spec!;
        Assert.Equal(1, spec.Replicas);
        var env = spec.Template.Spec.Containers[0].Env.ToDictionary(e => e.Name, e => e.Value);
        Assert.Equal(("hello", "hello-00001", "hello", "world"), (env["K_SERVICE"], env["K_REVISION"], env["K_CONFIGURATION"], env["TARGET"]));
        Assert.Equal("hello-00001", spec.Template.Metadata!.Labels["serving.knative.dev/revision"]);
        Assert.NotNull(Get("serving.knative.dev", "Route", "hello"));
    }

    [Fact]
    public async Task Reconcile_ScaleChange_DeploymentWrittenBeforeEveryStatus()
    {
        await _store.WriteAsync([new PutOperation(TestResources.One(Hello))]);
        await _controller.ReconcileOnceAsync();
        var from = _store.Snapshot.Revision;

        // This pass writes the revision's Deployment at its initial scale and the statuses that changed with it.
        await _controller.ReconcileOnceAsync();

        var kinds = new List<string>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var e in _store.WatchAsync(from, stop.Token))
        {
            kinds.Add(e.Object.Resource.Kind);
            if (e.Revision >= _store.Snapshot.Revision)
            {
                break;
            }
        }

        Assert.True(kinds.Count > 1, string.Join(", ", kinds));
        Assert.Equal("Deployment", kinds[0]);
    }

    [Fact]
    public async Task Reconcile_ScaleChange_DeploymentWrittenPlacedOnTheNode()
    {
        _registry.Report(new NodeStatus("n1", null, []));
        await _store.WriteAsync([new PutOperation(TestResources.One(Hello))]);

        await _controller.ReconcileOnceAsync();
        await _controller.ReconcileOnceAsync();

        // No scheduler runs here: the serving controller's own write carries the placement.
        var deployment = Get("apps", "Deployment", "hello-00001-deployment");
        Assert.Equal(1, ((DeploymentSpec)deployment.Spec!).Replicas);
        Assert.Equal(1, Trellis.Api.Registry.Placements.ReplicasOn(deployment, "n1"));
        Assert.Contains(deployment.Status!["conditions"]!.AsArray(), c => (string?)c!["type"] == "PodScheduled" && (string?)c["status"] == "True");
    }

    [Fact]
    public async Task Reconcile_InstanceReady_ServiceReadyAndGatewayRoutesItsHost()
    {
        await _store.WriteAsync([new PutOperation(TestResources.One(Hello))]);
        await _controller.ReconcileOnceAsync();
        _registry.Report(new NodeStatus("n1", null, [Instance("hello-00001-deployment-abcde", "hello-00001", ready: true)]));

        await _controller.ReconcileOnceAsync();
        await _controller.ReconcileOnceAsync();

        var service = Get("serving.knative.dev", "Service", "hello");
        Assert.Equal("http://hello.default.example.com", (string?)service.Status!["url"]);
        Assert.Contains(service.Status["conditions"]!.AsArray(), c => (string?)c!["type"] == "Ready" && (string?)c["status"] == "True");

        var gateway = SnapshotCompiler.Compile(new ProxyHello("g", ProxyRole.Gateway, null, new Dictionary<string, string> { ["istio"] = "ingressgateway" }),
            new MeshState(1, _store.Snapshot, _registry.Instances));
        Assert.Empty(gateway.Listeners); // no Gateway resource: nothing listens
        var node = SnapshotCompiler.Compile(new ProxyHello("n", ProxyRole.Node, "n1", new Dictionary<string, string>()), new MeshState(1, _store.Snapshot, _registry.Instances));
        var hosts = node.RouteTables.SelectMany(t => t.VirtualHosts).Single(h => h.Domains.Contains("hello.default.svc.cluster.local"));
        var cluster = hosts.Routes.Single().Clusters.Single();
        Assert.Equal("outbound|80|hello-00001|hello.default.svc.cluster.local", cluster.Cluster);
        Assert.Equal([30002], node.Clusters.Single(c => c.Name == cluster.Cluster).Endpoints.Select(e => e.Port));
    }

    [Fact]
    public async Task Reconcile_TemplateChange_CreatesSecondRevision()
    {
        await _store.WriteAsync([new PutOperation(TestResources.One(Hello))]);
        await _controller.ReconcileOnceAsync();
        await _store.WriteAsync([new PutOperation(TestResources.One(Hello.Replace("value: world", "value: mars", StringComparison.Ordinal)))]);

        await _controller.ReconcileOnceAsync(); // creates the revision
        await _controller.ReconcileOnceAsync(); // and, seeing it, its deployment

        Assert.NotNull(Get("serving.knative.dev", "Revision", "hello-00002"));
        Assert.NotNull(Get("apps", "Deployment", "hello-00002-deployment"));
    }

    [Fact]
    public async Task Reconcile_ServiceDeleted_RemovesEverythingItOwned()
    {
        await _store.WriteAsync([new PutOperation(TestResources.One(Hello))]);
        await _controller.ReconcileOnceAsync();
        await _store.WriteAsync([new DeleteOperation(new ResourceKey("serving.knative.dev", "Service", "default", "hello"))]);

        await _controller.ReconcileOnceAsync();
        await _controller.ReconcileOnceAsync();

        Assert.DoesNotContain(_store.Snapshot.Objects.Keys, k => k.Name.StartsWith("hello", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reconcile_BadAnnotation_RevisionNotReadyWithTheAnnotationNamed()
    {
        await _store.WriteAsync([new PutOperation(TestResources.One(Hello.Replace("target: \"10\"", "target: \"ten\"", StringComparison.Ordinal)))]);
        await _controller.ReconcileOnceAsync();
        await _controller.ReconcileOnceAsync();

        var revision = Get("serving.knative.dev", "Revision", "hello-00001");
        var ready = revision.Status!["conditions"]!.AsArray().Single();
        Assert.Equal("False", (string?)ready!["status"]);
        Assert.Contains("autoscaling.knative.dev/target", (string?)ready["message"], StringComparison.Ordinal);
    }

    private Resource Get(string group, string kind, string name) =>
        _store.Snapshot.Get(new ResourceKey(group, kind, "default", name))?.Resource ?? throw new Xunit.Sdk.XunitException($"{kind} {name} not found");

    private static WorkloadInstance Instance(string id, string revision, bool ready) =>
        new(id, "n1", revision + "-deployment", "default",
            new Dictionary<string, string> { ["serving.knative.dev/revision"] = revision, ["serving.knative.dev/service"] = "hello" }, "127.0.0.1",
            new Dictionary<string, int> { ["app"] = 30001, ["inbound"] = 30002, ["outbound"] = 30003 }, ready ? "Ready" : "Starting", ready, 0, null, 1, null);
}
