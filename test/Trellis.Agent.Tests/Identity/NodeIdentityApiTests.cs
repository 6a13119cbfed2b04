using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Trellis.Agent.Identity;
using Trellis.Api.Access;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane;
using Trellis.Proxy;
using Trellis.Proxy.Discovery;
using Trellis.Proxy.Identity;

namespace Trellis.Agent.Tests.Identity;

/// <summary>
/// The agent's node identity at the API's door, on real control planes on loopback: the requests the agent's own
/// <see cref="NodeCredential"/> signs are let in for its node only, and every forgery is refused.
/// </summary>
public sealed class NodeIdentityApiTests : IAsyncLifetime
{
    private readonly List<(ControlPlaneHost Host, string Dir)> _planes = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var (host, dir) in _planes)
        {
            await host.DisposeAsync();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task SignedRequests_OwnNodeOnly_ReadsButNoWrites()
    {
        var cp = await StartPlaneAsync();
        await using var node = await JoinAsync(cp, "n1", TimeProvider.System);

        using var own = await node.Http.PutAsJsonAsync("/registry/v1/nodes/n1", new NodeStatus("n1", null, []), WireJson.Options);
        using var other = await node.Http.PutAsJsonAsync("/registry/v1/nodes/n2", new NodeStatus("n2", null, []), WireJson.Options);
        using var read = await node.Http.GetAsync("/apis/apps/v1/deployments");
        using var apply = await node.Http.PostAsync("/apply", new StringContent("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"));
        using var tokens = await node.Http.GetAsync("/auth/v1/tokens");

        Assert.Equal(
            (HttpStatusCode.NoContent, HttpStatusCode.Forbidden, HttpStatusCode.OK, HttpStatusCode.Forbidden, HttpStatusCode.Forbidden),
            (own.StatusCode, other.StatusCode, read.StatusCode, apply.StatusCode, tokens.StatusCode));
        Assert.Equal("node n1 may report only its own node, not n2", (string?)System.Text.Json.Nodes.JsonNode.Parse(await other.Content.ReadAsStringAsync())?["message"]);
        Assert.Equal(["n1"], cp.Registry.NodeStatuses.Select(n => n.Node));
    }

    [Fact]
    public async Task PushStream_NodeProxyGetsItsSnapshot_AnotherNodesIsRefused()
    {
        var cp = await StartPlaneAsync();
        await using var node = await JoinAsync(cp, "n1", TimeProvider.System);
        var applied = 0;
        Task<SnapshotApplyResult> Apply(ProxySnapshot s, CancellationToken c)
        {
            Interlocked.Increment(ref applied);
            return Task.FromResult(new SnapshotApplyResult(true, []));
        }

        await using var mine = new PushClient(cp.PushUrl, new ProxyHello("node/n1", ProxyRole.Node, "n1", new Dictionary<string, string>()), Apply, NullLogger<PushClient>.Instance, node.Credential);
        mine.Start();
        await mine.FirstSnapshot.WaitAsync(TimeSpan.FromSeconds(20));

        // The same signature, claiming another node's proxy: refused before any snapshot is compiled for it.
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(cp.PushUrl, "/push/v1/stream"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new StringContent(JsonSerializer.Serialize(new ProxyHello("node/n2", ProxyRole.Node, "n2", new Dictionary<string, string>()), WireJson.Options) + "\n"),
        };
        await node.Credential.ApplyAsync(request, default);
        using var h2 = new HttpClient();
        using var refused = await h2.SendAsync(request);

        Assert.Equal(1, Volatile.Read(ref applied));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("node n1 may open the push stream only for proxies on node n1", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forgeries_AreRefused401()
    {
        var cp = await StartPlaneAsync();
        var foreign = await StartPlaneAsync(); // another CA: its node certificates carry valid-looking node IDs
        await using var node = await JoinAsync(cp, "n1", TimeProvider.System);
        await using var stranger = await JoinAsync(foreign, "n1", TimeProvider.System);
        await using var stale = await JoinAsync(cp, "n3", new ShiftedTime(TimeSpan.FromMinutes(-10)));
        using var plain = new HttpClient { BaseAddress = cp.ApiUrl };

        // Signed for one path, sent to another.
        using var moved = new HttpRequestMessage(HttpMethod.Get, new Uri(cp.ApiUrl, "/api/v1/pods"));
        await node.Credential.ApplyAsync(moved, default);
        moved.RequestUri = new Uri(cp.ApiUrl, "/api/v1/nodes");
        using var movedAnswer = await plain.SendAsync(moved);

        // A signature by a key that is not the certificate's.
        using var tampered = new HttpRequestMessage(HttpMethod.Get, new Uri(cp.ApiUrl, "/api/v1/pods"));
        await node.Credential.ApplyAsync(tampered, default);
        using var otherSigned = new HttpRequestMessage(HttpMethod.Get, new Uri(cp.ApiUrl, "/api/v1/pods"));
        await stranger.Credential.ApplyAsync(otherSigned, default);
        tampered.Headers.Remove(NodeSignature.SignatureHeader);
        tampered.Headers.TryAddWithoutValidation(NodeSignature.SignatureHeader, otherSigned.Headers.GetValues(NodeSignature.SignatureHeader));
        using var tamperedAnswer = await plain.SendAsync(tampered);

        using var foreignAnswer = await stranger.Http.GetAsync(new Uri(cp.ApiUrl, "/api/v1/pods"));
        using var staleAnswer = await stale.Http.GetAsync("/api/v1/pods");

        Assert.Equal(
            (HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized),
            (movedAnswer.StatusCode, tamperedAnswer.StatusCode, foreignAnswer.StatusCode, staleAnswer.StatusCode));
        Assert.Contains("signature does not verify", await movedAnswer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("not issued by this CA", await foreignAnswer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("timestamp is too far", await staleAnswer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var fine = await node.Http.GetAsync("/api/v1/pods");
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode); // the control plane is still up and still lets the node in
    }

    private async Task<ControlPlaneHost> StartPlaneAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "trellis-nodeauth-" + Guid.NewGuid().ToString("N"));
        var host = await ControlPlaneHost.StartAsync(new ControlPlaneOptions
        {
            DataDirectory = dir,
            ApiEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            PushEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            Eventing = null,
        }, NullLoggerFactory.Instance);
        _planes.Add((host, dir));
        return host;
    }

    /// <summary>A node joined to <paramref name="cp"/> as the agent joins: its HTTP client signs every request.</summary>
    private static async Task<JoinedNode> JoinAsync(ControlPlaneHost cp, string name, TimeProvider signingClock)
    {
        var credential = new NodeCredential(signingClock);
        var http = new HttpClient(new CredentialHandler(credential, new SocketsHttpHandler { UseProxy = false })) { BaseAddress = cp.ApiUrl };
        var manager = new CertificateManager(http, name, Trellis.ControlPlane.Ca.JoinToken.Read(cp.Ca.JoinToken.Path!), new WorkloadIdentities(), TimeProvider.System, NullLogger.Instance, credential);
        manager.Start();
        await credential.Joined.WaitAsync(TimeSpan.FromSeconds(20));
        return new JoinedNode(http, credential, manager);
    }

    private sealed record JoinedNode(HttpClient Http, NodeCredential Credential, CertificateManager Manager) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Manager.DisposeAsync();
            Http.Dispose();
        }
    }

    private sealed class ShiftedTime(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + shift;
    }
}
