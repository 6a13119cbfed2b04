using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Trellis.ControlPlane.Tests.Etcd;

/// <summary>Two control-plane replicas on one etcd: one API, one registry, one leader.</summary>
public sealed class ControlPlaneReplicasTests
{
    private static Task<ControlPlaneHost> StartAsync(EtcdCluster cluster, string name) =>
        ControlPlaneHost.StartAsync(new ControlPlaneOptions
        {
            DataDirectory = Path.Combine(Path.GetTempPath(), "trellis-unused-" + Guid.NewGuid().ToString("N")),
            ApiEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            PushEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            Store = cluster.StoreUrl,
            ReplicaName = name,
            LeaderTtl = TimeSpan.FromSeconds(2),
        }, NullLoggerFactory.Instance);

    [Fact]
    public async Task ApplyOnOne_GetOnTheOther_RegistryShared_OneLeaderThatHandsOver()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        var a = await StartAsync(cluster, "a");
        try
        {
            await using var b = await StartAsync(cluster, "b");
            using var httpA = ApiServer.AdminClients.For(a);
            using var httpB = ApiServer.AdminClients.For(b);

            using var applied = await httpA.PostAsync("/apply?source=test.yaml", new StringContent(TestResources.ReviewsService, Encoding.UTF8, "application/yaml"));
            Assert.Equal(HttpStatusCode.OK, applied.StatusCode);
            await EtcdLeaderElectionTests.Until(() => b.Store.Snapshot.Get(new Trellis.Api.ResourceKey("", "Service", "default", "reviews")) is not null);
            var got = JsonNode.Parse(await httpB.GetStringAsync("/api/v1/namespaces/default/services/reviews"))!;
            Assert.Equal("reviews", (string?)got["metadata"]!["name"]);

            var node = """{"node":"n1","instances":[{"id":"reviews-v1-aaaaa","node":"n1","workload":"reviews-v1","namespace":"default","labels":{"app":"reviews"},"host":"10.0.0.1","ports":{"app":9080},"phase":"Running","ready":true,"restarts":0}]}""";
            using var reported = await httpA.PutAsync("/registry/v1/nodes/n1", new StringContent(node, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.NoContent, reported.StatusCode);
            await EtcdLeaderElectionTests.Until(() => b.Registry.Instances.Count == 1);
            var pods = JsonNode.Parse(await httpB.GetStringAsync("/api/v1/pods"))!;
            Assert.Equal("reviews-v1-aaaaa", (string?)pods["items"]![0]!["metadata"]!["name"]);

            await EtcdLeaderElectionTests.Until(() => a.Leadership.IsLeader ^ b.Leadership.IsLeader && a.Leadership.Leader is not null && b.Leadership.Leader is not null);
            var leader = a.Leadership.IsLeader ? a : b;
            var follower = leader == a ? b : a;
            Assert.Equal(leader.ApiUrl.ToString().TrimEnd('/'), follower.Leadership.Leader!.ApiUrl);

            await leader.DisposeAsync();
            await EtcdLeaderElectionTests.Until(() => follower.Leadership.IsLeader, seconds: 5);
        }
        finally
        {
            await a.DisposeAsync();
        }
    }

    [Fact]
    public async Task Scheduler_OnTheLeader_SpreadsDeploymentsOverEveryRegisteredNode()
    {
        await using var cluster = await EtcdCluster.StartAsync();
        await using var a = await StartAsync(cluster, "a");
        await using var b = await StartAsync(cluster, "b");
        using var http = ApiServer.AdminClients.For(a);
        foreach (var n in new[] { "n1", "n2", "n3" })
        {
            var node = "{\"node\":\"" + n + "\",\"instances\":[],\"address\":\"10.0.0.1\",\"capacity\":{\"cpuMillis\":2000,\"memoryBytes\":25000000000}}";
            using var put = await http.PutAsync($"/registry/v1/nodes/{n}", new StringContent(node, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        }

        await EtcdLeaderElectionTests.Until(() => a.Registry.Nodes.Count == 3 && b.Registry.Nodes.Count == 3);
        var yaml = string.Join("---\n", new[] { "x", "y", "z" }.Select(d => $"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {d}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {d}}}}}\n  template:\n    metadata: {{labels: {{app: {d}}}}}\n    spec:\n      containers: [{{name: {d}, command: [{d}]}}]\n"));
        using var applied = await http.PostAsync("/apply", new StringContent(yaml, Encoding.UTF8, "application/yaml"));
        Assert.Equal(HttpStatusCode.OK, applied.StatusCode);

        await EtcdLeaderElectionTests.Until(() => a.Store.Snapshot.List("apps", "Deployment").Count(d => Trellis.Api.Registry.Placements.Of(d.Resource.Status) is { Count: > 0 }) == 3);
        var nodes = a.Store.Snapshot.List("apps", "Deployment").SelectMany(d => Trellis.Api.Registry.Placements.Of(d.Resource.Status)!.Keys).ToList();
        Assert.Equal(["n1", "n2", "n3"], nodes.Order(StringComparer.Ordinal));
    }
}
