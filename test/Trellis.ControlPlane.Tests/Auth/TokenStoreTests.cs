using System.Text.Json;
using Trellis.Api.Access;
using Trellis.ControlPlane.Auth;

namespace Trellis.ControlPlane.Tests.Auth;

public sealed class TokenStoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-tokens-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void Open_FirstStart_MakesAnAdminTokenOwnerOnlyAndKeepsOnlyItsHash()
    {
        var store = TokenStore.Open(_dir, null, TimeProvider.System);

        var token = File.ReadAllText(store.AdminTokenPath!).Trim();
        Assert.Equal(ApiRole.Admin, store.Authenticate(token)?.Role);
        Assert.DoesNotContain(token, File.ReadAllText(Path.Combine(_dir, TokenStore.TokensFile)), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.AdminTokenPath!));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, TokenStore.TokensFile)));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir));
        }

        // A restart keeps the same token and makes no other.
        var again = TokenStore.Open(_dir, null, TimeProvider.System);
        Assert.Equal(ApiRole.Admin, again.Authenticate(token)?.Role);
        Assert.Single(again.List());
    }

    [Fact]
    public void Create_Revoke_TokenStopsWorkingAtOnceAndAfterRestart()
    {
        var store = TokenStore.Open(_dir, null, TimeProvider.System);
        var (token, record, error) = store.Create("ci", ApiRole.Edit);
        Assert.Null(error);
        Assert.Equal(ApiRole.Edit, store.Authenticate(token!)?.Role);
        Assert.Equal(ApiRole.Edit, TokenStore.Open(_dir, null, TimeProvider.System).Authenticate(token!)?.Role);

        Assert.True(store.Revoke(record!.Id));
        Assert.Null(store.Authenticate(token!));
        Assert.Null(TokenStore.Open(_dir, null, TimeProvider.System).Authenticate(token!));
        Assert.False(store.Revoke("ci"));
    }

    public static TheoryData<string> WrongTokens => new() { "", "garbage", "abc.def", "0123456789ab.0000" };

    [Theory]
    [MemberData(nameof(WrongTokens))]
    public void Authenticate_WrongOrMalformed_IsNull(string presented)
    {
        var store = TokenStore.Open(_dir, null, TimeProvider.System);
        Assert.Null(store.Authenticate(presented));
    }

    [Fact]
    public void Authenticate_RightIdWrongSecret_IsNull()
    {
        var store = TokenStore.Open(_dir, null, TimeProvider.System);
        var (token, _, _) = store.Create("ci", ApiRole.View);
        Assert.Null(store.Authenticate(token![..^1] + (token[^1] == '0' ? '1' : '0')));
    }

    [Fact]
    public void Create_DuplicateOrBadName_IsRefused()
    {
        var store = TokenStore.Open(_dir, null, TimeProvider.System);
        Assert.Contains("exists already", store.Create("admin", ApiRole.View).Error, StringComparison.Ordinal);
        Assert.Contains("invalid token name", store.Create("a b", ApiRole.View).Error, StringComparison.Ordinal);
        Assert.Single(store.List());
    }

    [Fact]
    public void Open_StaticFile_TokensAndHashesAcceptedNoAdminTokenMade()
    {
        Directory.CreateDirectory(_dir);
        var file = Path.Combine(_dir, "static.csv");
        var hashed = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("hashed-token-0123456789"u8));
        File.WriteAllText(file, $"# operator tokens\nplain-token-0123456789,ops,admin\nsha256:{hashed},gateway/east,proxy\n");

        var store = TokenStore.Open(Path.Combine(_dir, "auth"), file, TimeProvider.System);

        Assert.Null(store.AdminTokenPath);
        Assert.Equal(("ops", ApiRole.Admin), (store.Authenticate("plain-token-0123456789")!.Name, store.Authenticate("plain-token-0123456789")!.Role));
        Assert.Equal(("gateway/east", ApiRole.Proxy), (store.Authenticate("hashed-token-0123456789")!.Name, store.Authenticate("hashed-token-0123456789")!.Role));
        Assert.False(store.Revoke("ops"));
    }

    [Fact]
    public void Open_BadStaticFile_EveryLineNamed()
    {
        Directory.CreateDirectory(_dir);
        var file = Path.Combine(_dir, "static.csv");
        File.WriteAllText(file, "short,ops,admin\nplain-token-0123456789,ops,root\nsha256:abc,x,view\n");

        var e = Assert.Throws<InvalidOperationException>(() => TokenStore.Open(Path.Combine(_dir, "auth"), file, TimeProvider.System));

        Assert.Contains("static.csv:1: a token must be at least 16 characters", e.Message, StringComparison.Ordinal);
        Assert.Contains("static.csv:2: expected token,name,role", e.Message, StringComparison.Ordinal);
        Assert.Contains("static.csv:3: a sha256: token must be 64 hex digits", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_dir, "auth")));
    }

    [Fact]
    public void ProcessToken_IsNeverWritten()
    {
        var store = TokenStore.Open(_dir, null, TimeProvider.System);
        var token = store.CreateProcessToken("gateway/ingress", ApiRole.Proxy);

        Assert.Equal("gateway/ingress", store.Authenticate(token)?.Name);
        var saved = JsonSerializer.Deserialize<JsonElement>(File.ReadAllText(Path.Combine(_dir, TokenStore.TokensFile)));
        Assert.Equal(1, saved.GetArrayLength());
        Assert.Null(TokenStore.Open(_dir, null, TimeProvider.System).Authenticate(token));
    }
}
