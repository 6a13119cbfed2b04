using Trellis.Api.Access;
using Trellis.ControlPlane.Auth;

namespace Trellis.ControlPlane.Tests.Auth;

public sealed class ApiAccessTests
{
    public static TheoryData<string, string, string> Rules => new()
    {
        { "GET", "/healthz", "public" },
        { "GET", "/metrics", "public" },
        { "POST", "/ca/v1/join", "public" },
        { "POST", "/ca/v1/certificates", "public" },
        { "GET", "/ca/v1/bundle", "public" },
        { "GET", "/ca/v1/status", "role view" },
        { "GET", "/api/v1/pods", "role view" },
        { "GET", "/api/v1/namespaces/default/secrets/s", "role view" },
        { "POST", "/analyze", "role view" },
        { "GET", "/auth/v1/whoami", "role view" },
        { "POST", "/apply", "role edit" },
        { "POST", "/delete", "role edit" },
        { "PUT", "/apis/networking.istio.io/v1/namespaces/default/virtualservices/r", "role edit" },
        { "DELETE", "/api/v1/namespaces/default/services/s", "role edit" },
        { "GET", "/debug/snapshot/gateway/ingress", "role edit" },
        { "GET", "/debug/tap", "role edit" },
        { "GET", "/debug/stat", "role view" },
        { "GET", "/debug/edges", "role view" },
        { "GET", "/auth/v1/tokens", "role admin" },
        { "POST", "/auth/v1/tokens", "role admin" },
        { "DELETE", "/auth/v1/tokens/abc", "role admin" },
        { "PUT", "/registry/v1/nodes/a1", "a node or proxy identity" },
        { "POST", "/push/v1/stream", "a node or proxy identity" },
        { "POST", "/serving/v1/demand", "a node or proxy identity" },
        { "POST", "/serving/v1/load", "a node or proxy identity" },
        { "POST", "/serving/v1/metering", "a node or proxy identity" },
        { "GET", "/serving/v1/usage", "role view" },
        { "GET", "/healthz/extra", "role view" },
        { "POST", "/healthz", "role edit" },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void Required_Path_IsTheTablesRow(string method, string path, string expected) =>
        Assert.Equal(expected, ApiAccess.Required(method, path).ToString());

    public static TheoryData<string, string, bool, bool, bool, bool, bool, bool> Principals => new()
    {
        // access           needs               view   edit   admin  proxy  node   nobody
        { "GET", "/api/v1/pods", true, true, true, false, true, false },
        { "POST", "/apply", false, true, true, false, false, false },
        { "POST", "/auth/v1/tokens", false, false, true, false, false, false },
        { "POST", "/push/v1/stream", false, false, true, true, true, false },
        { "PUT", "/registry/v1/nodes/a1", false, false, true, true, true, false },
        { "GET", "/healthz", true, true, true, true, true, true },
    };

    [Theory]
    [MemberData(nameof(Principals))]
    public void Allows_EachPrincipal_AsDocumented(string method, string path, bool view, bool edit, bool admin, bool proxy, bool node, bool nobody)
    {
        var access = ApiAccess.Required(method, path);
        Assert.Equal(
            (view, edit, admin, proxy, node, nobody),
            (ApiAccess.Allows(Token(ApiRole.View), access), ApiAccess.Allows(Token(ApiRole.Edit), access), ApiAccess.Allows(Token(ApiRole.Admin), access),
                ApiAccess.Allows(Token(ApiRole.Proxy), access), ApiAccess.Allows(ApiPrincipal.ForNode("a1"), access), ApiAccess.Allows(null, access)));
    }

    [Fact]
    public void SeesSecretData_OnlyEditAndAdmin()
    {
        Assert.False(Token(ApiRole.View).SeesSecretData);
        Assert.True(Token(ApiRole.Edit).SeesSecretData);
        Assert.True(Token(ApiRole.Admin).SeesSecretData);
        Assert.False(Token(ApiRole.Proxy).SeesSecretData);
        Assert.False(ApiPrincipal.ForNode("a1").SeesSecretData);
    }

    public static TheoryData<string, string?> Pushes => new()
    {
        // principal, hello name/node → refusal (null: allowed)
        { "node:a1 node/a1@a1", null },
        { "node:a1 node/b2@b2", "node a1 may open the push stream only for proxies on node a1, not for node/b2 (node b2)" },
        { "node:a1 gateway/g@", "node a1 may open the push stream only for proxies on node a1, not for gateway/g (node none)" },
        { "proxy:gateway/g gateway/g@", null },
        { "proxy:gateway/g gateway/h@", "token \"gateway/g\" may open the push stream only as proxy \"gateway/g\", not as \"gateway/h\"" },
        { "admin:ops gateway/h@", null },
        { "edit:ci gateway/h@", "token \"ci\" (role edit) may not open the push stream" },
    };

    [Theory]
    [MemberData(nameof(Pushes))]
    public void PushRefusal_HelloMustNameTheCredential(string setup, string? expected)
    {
        var parts = setup.Split(' ');
        var who = parts[0].Split(':', 2);
        var principal = who[0] switch
        {
            "node" => ApiPrincipal.ForNode(who[1]),
            var role => ApiPrincipal.ForToken(new ApiToken("id", who[1], Parse(role), "", DateTimeOffset.UnixEpoch)),
        };
        var hello = parts[1].Split('@');
        var refusal = PushIdentity.Refusal(principal, new Trellis.Api.Snapshots.ProxyHello(hello[0], hello[1].Length > 0 ? Trellis.Api.Snapshots.ProxyRole.Node : Trellis.Api.Snapshots.ProxyRole.Gateway,
            hello[1].Length > 0 ? hello[1] : null, new Dictionary<string, string>()));
        Assert.Equal(expected, refusal);
    }

    private static ApiRole Parse(string role) => ApiRoles.TryParse(role, out var r) ? r : throw new ArgumentException(role);

    private static ApiPrincipal Token(ApiRole role) => ApiPrincipal.ForToken(new ApiToken("id", "t", role, "", DateTimeOffset.UnixEpoch));
}
