using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Trellis.Api.Registry;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Tests.ApiServer;

namespace Trellis.ControlPlane.Tests.Auth;

/// <summary>The API's door on a real control plane on loopback: each refusal of docs/security.md, and that it changed nothing.</summary>
public sealed class ApiAuthenticationTests
{
    private const string Service = """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: default}
        spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
        """;

    private const string Secret = """
        apiVersion: v1
        kind: Secret
        metadata: {name: creds, namespace: default}
        type: Opaque
        stringData: {password: hunter2}
        """;

    [Fact]
    public async Task NoToken_EveryDoorIs401_AndNothingChanges()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = cp.Host.ApiUrl };

        using var apply = await anonymous.PostAsync("/apply", Yaml(Service));
        using var list = await anonymous.GetAsync("/api/v1/pods");
        using var registry = await anonymous.PutAsync("/registry/v1/nodes/n1", Json(new NodeStatus("n1", null, [])));
        using var demand = await anonymous.PostAsync("/serving/v1/demand", Json(new { cluster = "x", waiting = 1 }));
        using var push = await OpenPushAsync(cp.Host.PushUrl, null, new ProxyHello("node/n1", ProxyRole.Node, "n1", new Dictionary<string, string>()));
        using var health = await anonymous.GetAsync("/healthz");
        using var bundle = await anonymous.GetAsync("/ca/v1/bundle");

        Assert.Equal(
            (HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized),
            (apply.StatusCode, list.StatusCode, registry.StatusCode, demand.StatusCode, push.StatusCode));
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (health.StatusCode, bundle.StatusCode));
        Assert.Equal("Bearer realm=\"trellis\"", apply.Headers.WwwAuthenticate.ToString());
        Assert.Contains("a token is required", (string?)JsonNode.Parse(await apply.Content.ReadAsStringAsync())?["message"], StringComparison.Ordinal);
        using var stored = await cp.Http.GetAsync("/api/v1/namespaces/default/services/web");
        Assert.Equal(HttpStatusCode.NotFound, stored.StatusCode);
        Assert.Empty(cp.Host.Registry.NodeStatuses);
    }

    [Fact]
    public async Task RevokedToken_Is401_AtOnce()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        var (id, token) = await CreateTokenAsync(cp, "reader", "view");
        using var reader = Client(cp, token);
        using var before = await reader.GetAsync("/api/v1/pods");

        using var revoke = await cp.Http.DeleteAsync("/auth/v1/tokens/" + id);
        using var after = await reader.GetAsync("/api/v1/pods");

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.Unauthorized), (before.StatusCode, revoke.StatusCode, after.StatusCode));
        Assert.Equal("the token is not valid: unknown or revoked", (string?)JsonNode.Parse(await after.Content.ReadAsStringAsync())?["message"]);
        using var unknown = Client(cp, token[..^4] + "0000");
        using var forged = await unknown.GetAsync("/api/v1/pods");
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
    }

    [Fact]
    public async Task ViewToken_ApplyIs403_AndNothingIsStored()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        var (_, token) = await CreateTokenAsync(cp, "viewer", "view");
        using var viewer = Client(cp, token);

        using var apply = await viewer.PostAsync("/apply", Yaml(Service));
        using var put = await viewer.PutAsync("/api/v1/namespaces/default/services/web", Yaml(Service));
        using var delete = await viewer.DeleteAsync("/api/v1/namespaces/default/services/web");
        using var mint = await viewer.PostAsync("/auth/v1/tokens", Json(new { name = "more", role = "admin" }));
        using var analyze = await viewer.PostAsync("/analyze", Yaml(Service));
        using var read = await viewer.GetAsync("/api/v1/namespaces/default/services");

        Assert.Equal(
            (HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.OK, HttpStatusCode.OK),
            (apply.StatusCode, put.StatusCode, delete.StatusCode, mint.StatusCode, analyze.StatusCode, read.StatusCode));
        Assert.Equal("token \"viewer\" (role view) may not POST /apply: it needs role edit", (string?)JsonNode.Parse(await apply.Content.ReadAsStringAsync())?["message"]);
        using var stored = await cp.Http.GetAsync("/api/v1/namespaces/default/services/web");
        Assert.Equal(HttpStatusCode.NotFound, stored.StatusCode);
        using var tokens = await cp.Http.GetAsync("/auth/v1/tokens");
        Assert.DoesNotContain("\"more\"", await tokens.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task EditToken_AppliesButCannotManageTokens()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        var (_, token) = await CreateTokenAsync(cp, "ci", "edit");
        using var editor = Client(cp, token);

        using var apply = await editor.PostAsync("/apply", Yaml(Service));
        using var list = await editor.GetAsync("/auth/v1/tokens");
        using var whoami = await editor.GetAsync("/auth/v1/whoami");

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.Forbidden, HttpStatusCode.OK), (apply.StatusCode, list.StatusCode, whoami.StatusCode));
        Assert.Equal(("ci", "edit"), ((string?)JsonNode.Parse(await whoami.Content.ReadAsStringAsync())?["name"], (string?)JsonNode.Parse(await whoami.Content.ReadAsStringAsync())?["role"]));
    }

    [Fact]
    public async Task View_SecretsWithoutData_EditSeesThem()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        using var applied = await cp.Http.PostAsync("/apply", Yaml(Secret));
        Assert.Equal(HttpStatusCode.OK, applied.StatusCode);
        var (_, viewToken) = await CreateTokenAsync(cp, "viewer", "view");
        var (_, editToken) = await CreateTokenAsync(cp, "ci", "edit");
        using var viewer = Client(cp, viewToken);
        using var editor = Client(cp, editToken);

        var viewed = JsonNode.Parse(await viewer.GetStringAsync("/api/v1/namespaces/default/secrets/creds"))!;
        var listed = JsonNode.Parse(await viewer.GetStringAsync("/api/v1/secrets"))!["items"]![0]!;
        var edited = JsonNode.Parse(await editor.GetStringAsync("/api/v1/namespaces/default/secrets/creds"))!;

        Assert.Equal("creds", (string?)viewed["metadata"]?["name"]);
        Assert.Null(viewed["data"]);
        Assert.Null(viewed["stringData"]);
        Assert.Null(listed["data"]);
        Assert.Null(listed["stringData"]);
        Assert.Contains("hunter2", edited.ToJsonString() + Encoding.UTF8.GetString(Convert.FromBase64String((string?)edited["data"]?["password"] ?? "")), StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", viewed.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProxyToken_OwnSnapshotOnly_NoRegistryNoApply()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        var (_, token) = await CreateTokenAsync(cp, "gateway/east", "proxy");
        using var proxy = Client(cp, token);

        using var own = await OpenPushAsync(cp.Host.PushUrl, token, new ProxyHello("gateway/east", ProxyRole.Gateway, null, new Dictionary<string, string>()));
        using var other = await OpenPushAsync(cp.Host.PushUrl, token, new ProxyHello("gateway/west", ProxyRole.Gateway, null, new Dictionary<string, string>()));
        using var node = await OpenPushAsync(cp.Host.PushUrl, token, new ProxyHello("node/n1", ProxyRole.Node, "n1", new Dictionary<string, string>()));
        using var registry = await proxy.PutAsync("/registry/v1/nodes/n1", Json(new NodeStatus("n1", null, [])));
        using var apply = await proxy.PostAsync("/apply", Yaml(Service));
        using var demand = await proxy.PostAsync("/serving/v1/demand", Json(new { cluster = "outbound|80||x.default.svc.cluster.local", waiting = 1 }));

        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        var first = await new StreamReader(await own.Content.ReadAsStreamAsync()).ReadLineAsync();
        Assert.NotNull(JsonSerializer.Deserialize(first!, WireJsonContext.Default.ProxySnapshot));
        Assert.Equal((HttpStatusCode.Forbidden, HttpStatusCode.Forbidden), (other.StatusCode, node.StatusCode));
        Assert.Contains("may open the push stream only as proxy \"gateway/east\"", await other.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.Forbidden, HttpStatusCode.Forbidden), (registry.StatusCode, apply.StatusCode));
        Assert.NotEqual(HttpStatusCode.Unauthorized, demand.StatusCode);
        Assert.NotEqual(HttpStatusCode.Forbidden, demand.StatusCode);
        Assert.Empty(cp.Host.Registry.NodeStatuses);
    }

    [Fact]
    public async Task TokenCreate_BadRoleOrName_Is400_DuplicateIs409()
    {
        await using var cp = await ControlPlaneFixture.StartAsync();
        using var role = await cp.Http.PostAsync("/auth/v1/tokens", Json(new { name = "x", role = "root" }));
        using var name = await cp.Http.PostAsync("/auth/v1/tokens", Json(new { name = "a b", role = "view" }));
        using var duplicate = await cp.Http.PostAsync("/auth/v1/tokens", Json(new { name = "admin", role = "view" }));
        using var garbage = await cp.Http.PostAsync("/auth/v1/tokens", new StringContent("{not json"));
        using var revoke = await cp.Http.DeleteAsync("/auth/v1/tokens/nobody");

        Assert.Equal(
            (HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.Conflict, HttpStatusCode.BadRequest, HttpStatusCode.NotFound),
            (role.StatusCode, name.StatusCode, duplicate.StatusCode, garbage.StatusCode, revoke.StatusCode));
        var list = JsonNode.Parse(await cp.Http.GetStringAsync("/auth/v1/tokens"))!["items"]!.AsArray();
        Assert.Equal("admin", Assert.Single(list.Select(t => (string?)t?["name"])));
        Assert.DoesNotContain("sha256", list.ToJsonString(), StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<(string Id, string Token)> CreateTokenAsync(ControlPlaneFixture cp, string name, string role)
    {
        using var response = await cp.Http.PostAsync("/auth/v1/tokens", Json(new { name, role }));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.StatusCode == HttpStatusCode.Created, body.ToJsonString());
        return ((string)body["id"]!, (string)body["token"]!);
    }

    private static HttpClient Client(ControlPlaneFixture cp, string token)
    {
        var http = new HttpClient { BaseAddress = cp.Host.ApiUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    /// <summary>Opens a push stream (hello only) and returns the response: 200 with snapshots, or the refusal.</summary>
    private static async Task<HttpResponseMessage> OpenPushAsync(Uri push, string? token, ProxyHello hello)
    {
        var http = new HttpClient();
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(push, "/push/v1/stream"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new StringContent(JsonSerializer.Serialize(hello, WireJson.Options) + "\n"),
        };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    private static StringContent Yaml(string yaml) => new(yaml, Encoding.UTF8, "application/yaml");

    private static StringContent Json<T>(T value) => new(JsonSerializer.Serialize(value, WireJson.Options), Encoding.UTF8, "application/json");
}
