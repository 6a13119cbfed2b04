using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Trellis.ControlPlane.Tests.ApiServer;

namespace Trellis.ControlPlane.Tests.Scheduling;

public sealed class SchedulerHostTests
{
    [Fact]
    public async Task ControlPlane_NodeRegisters_DeploymentIsPlacedOnIt()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        var node = """{"node":"n1","instances":[],"address":"10.1.0.1","capacity":{"cpuMillis":2000,"memoryBytes":1073741824}}""";
        using var reported = await cp.Http.PutAsync("/registry/v1/nodes/n1", new StringContent(node, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NoContent, reported.StatusCode);
        var (status, _) = await cp.PostAsync("/apply", """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: 2
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  containers: [{name: web, command: [web]}]
            """);
        Assert.Equal(HttpStatusCode.OK, status);

        var deadline = DateTime.UtcNow.AddSeconds(10);
        JsonNode? placement = null;
        while (placement is null)
        {
            Assert.True(DateTime.UtcNow < deadline, "not placed");
            await Task.Delay(20);
            placement = JsonNode.Parse(await cp.Http.GetStringAsync("/apis/apps/v1/namespaces/default/deployments/web"))!["status"]?["placement"];
        }

        Assert.Equal(2, (int)placement["n1"]!);
        var nodes = JsonNode.Parse(await cp.Http.GetStringAsync("/api/v1/nodes"))!["items"]!.AsArray();
        Assert.Equal("10.1.0.1", (string?)Assert.Single(nodes)!["status"]!["addresses"]![0]!["address"]);
        Assert.Equal("2000m", (string?)nodes[0]!["status"]!["capacity"]!["cpu"]);
    }
}
