using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.ControlPlane.Eventing;
using Trellis.ControlPlane.Tests.Etcd;
using Trellis.Eventing.Storage.JetStream;
using Trellis.Eventing.Tests.Storage;

namespace Trellis.ControlPlane.Tests.Eventing;

/// <summary>
/// The distributed mode's eventing: two control-plane replicas on one etcd share a JetStream store.
/// Both ingresses take events; only the leader delivers, so each event reaches the subscriber once.
/// </summary>
public sealed class JetStreamReplicasTests
{
    [Fact]
    public async Task TwoReplicas_BothTakeEvents_TheLeaderDeliversEachOnce()
    {
        await using var etcd = await EtcdCluster.StartAsync();
        await using var nats = await NatsServer.StartAsync();
        var received = new ConcurrentDictionary<string, int>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var subscriber = builder.Build();
        subscriber.Run(c =>
        {
            received.AddOrUpdate(c.Request.Headers["ce-id"].ToString(), 1, (_, n) => n + 1);
            c.Response.StatusCode = 202;
            return Task.CompletedTask;
        });
        await subscriber.StartAsync();
        var dirs = new List<string>();
        Task<ControlPlaneHost> StartAsync(string name)
        {
            dirs.Add(Path.Combine(Path.GetTempPath(), "trellis-js-replica-" + Guid.NewGuid().ToString("N")));
            return ControlPlaneHost.StartAsync(new ControlPlaneOptions
            {
                DataDirectory = dirs[^1],
                ApiEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
                PushEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
                Store = etcd.StoreUrl,
                ReplicaName = name,
                LeaderTtl = TimeSpan.FromSeconds(2),
                Eventing = new EventingOptions { BrokerEndpoint = new IPEndPoint(IPAddress.Loopback, 0), Tick = TimeSpan.FromMilliseconds(50), JetStream = new JetStreamOptions(nats.Url) },
            }, NullLoggerFactory.Instance);
        }

        try
        {
            await using var a = await StartAsync("a");
            await using var b = await StartAsync("b");
            using var http = ApiServer.AdminClients.For(a);
            var yaml = $"""
                apiVersion: eventing.knative.dev/v1
                kind: Broker
                metadata: {"{"}name: default{"}"}
                ---
                apiVersion: eventing.knative.dev/v1
                kind: Trigger
                metadata: {"{"}name: all{"}"}
                spec:
                  broker: default
                  subscriber: {"{"}uri: "{subscriber.Urls.First()}/"{"}"}
                """;
            using (var applied = await http.PostAsync("/apply", new StringContent(yaml, Encoding.UTF8, "application/yaml")))
            {
                Assert.True(applied.IsSuccessStatusCode, await applied.Content.ReadAsStringAsync());
            }

            await EtcdLeaderElectionTests.Until(() => a.Leadership.IsLeader ^ b.Leadership.IsLeader, seconds: 30);
            var leader = a.Leadership.IsLeader ? a : b;
            var triggerReady = false;
            await EtcdLeaderElectionTests.Until(() =>
            {
                var trigger = leader.Store.Snapshot.Get(new Trellis.Api.ResourceKey("eventing.knative.dev", "Trigger", "default", "all"));
                triggerReady = trigger?.Resource.Status?["conditions"] is JsonArray conditions
                    && conditions.Any(c => (string?)c?["type"] == "Ready" && (string?)c?["status"] == "True");
                return triggerReady;
            }, seconds: 30);

            using var publisher = new HttpClient();
            var ids = new List<string>();
            foreach (var (host, replica) in new[] { (a, "a"), (b, "b") })
            {
                for (var i = 0; i < 20; i++)
                {
                    var id = $"{replica}-{i}";
                    await PublishAsync(publisher, new Uri(host.BrokerIngressUrl!, "default/default"), id);
                    ids.Add(id);
                }
            }

            await EtcdLeaderElectionTests.Until(() => ids.All(received.ContainsKey), seconds: 30);
            // Each once: a follower that delivered too would double them within its own tick.
            var settle = DateTime.UtcNow + TimeSpan.FromSeconds(1);
            while (DateTime.UtcNow < settle)
            {
                Assert.All(received, r => Assert.Equal(1, r.Value));
                await Task.Delay(50);
            }
        }
        finally
        {
            foreach (var dir in dirs.Where(Directory.Exists))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    /// <summary>Posts one event, trying again while that replica has not opened the broker's log yet (404/503).</summary>
    private static async Task PublishAsync(HttpClient http, Uri broker, string id)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, broker) { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
            request.Headers.Add("ce-specversion", "1.0");
            request.Headers.Add("ce-id", id);
            request.Headers.Add("ce-source", "/test");
            request.Headers.Add("ce-type", "t");
            using var response = await http.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{broker} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            await Task.Delay(50);
        }
    }
}
