namespace Trellis.EndToEnd.Tests.Security;

/// <summary>
/// The control plane's doors through the real binary: <c>trellis controlplane</c> makes an admin token and a CLI
/// context (in a config of this test's own, TRELLIS_CONFIG), the CLI finds it without flags, the token verbs work, and
/// each refusal (no token, a view token applying, a revoked token, a proxy token claiming another proxy) is a clear
/// message while the control plane and the proxies stay up.
/// </summary>
public sealed class ApiTokensCliTests : IAsyncLifetime
{
    private const string Service = """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: default}
        spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
        """;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-apitokens-" + Guid.NewGuid().ToString("N"));
    private readonly List<TrellisProcess> _processes = [];
    private Dictionary<string, string?> _env = [];
    private string _server = "";
    private string _push = "";

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _env = new Dictionary<string, string?> { ["TRELLIS_CONFIG"] = Path.Combine(_dir, "home", ".trellis", "config"), ["TRELLIS_TOKEN"] = null, ["TRELLIS_SERVER"] = null };
        var api = FreePorts.Next();
        var push = FreePorts.Next();
        _server = $"http://127.0.0.1:{api}";
        _push = $"http://127.0.0.1:{push}";
        var cp = TrellisProcess.StartWith(_env, "controlplane", "--data-dir", Path.Combine(_dir, "data"), "--api-address", $"127.0.0.1:{api}",
            "--push-address", $"127.0.0.1:{push}", "--broker-address", $"127.0.0.1:{FreePorts.Next()}");
        _processes.Add(cp);
        // "Admin token:" comes first (the context is written before the API listens), then the API's address once it does.
        await Eventually.WaitAsync(() => Task.FromResult(cp.Output.Contains("Control plane API", StringComparison.Ordinal)), TimeSpan.FromSeconds(60), "the control plane listening", cp);
        Assert.True(cp.Output.IndexOf("Admin token:", StringComparison.Ordinal) is >= 0 and var admin && admin < cp.Output.IndexOf("Control plane API", StringComparison.Ordinal), cp.Output);
    }

    public async Task DisposeAsync()
    {
        foreach (var p in Enumerable.Reverse(_processes))
        {
            await p.DisposeAsync();
        }

        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Controlplane_AdminContextWritten_CliUsesItWithoutFlags()
    {
        var adminFile = Path.Combine(_dir, "data", "auth", "admin-token");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(adminFile));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_env["TRELLIS_CONFIG"]!));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(_env["TRELLIS_CONFIG"]!)!));
        }

        Assert.Contains(adminFile, _processes[0].Output, StringComparison.Ordinal);
        var config = await File.ReadAllTextAsync(_env["TRELLIS_CONFIG"]!);
        Assert.Contains($"current-context: 'trellis@{new Uri(_server).Authority}'", config, StringComparison.Ordinal);
        Assert.Contains((await File.ReadAllTextAsync(adminFile)).Trim(), config, StringComparison.Ordinal);

        // No --server, no --token: the current context gives both.
        var whoami = await TrellisProcess.RunWithAsync(_env, "auth", "whoami");
        Assert.True(whoami.Exit == 0, whoami.Stderr);
        Assert.Equal("admin (role admin)", whoami.Stdout.Trim());
        var applied = await ApplyAsync(_env);
        Assert.True(applied.Exit == 0, applied.Stderr);
    }

    [Fact]
    public async Task NoToken_ViewApplies_Revoked_AllRefusedWithTheReason()
    {
        var none = new Dictionary<string, string?>(_env) { ["TRELLIS_CONFIG"] = Path.Combine(_dir, "nowhere", "config") };
        var anonymous = await TrellisProcess.RunWithAsync(none, "get", "svc", "--server", _server);
        Assert.Equal(1, anonymous.Exit);
        Assert.Contains("error: a token is required", anonymous.Stderr, StringComparison.Ordinal);

        var created = await TrellisProcess.RunWithAsync(_env, "token", "create", "viewer", "--role", "view");
        Assert.True(created.Exit == 0, created.Stderr);
        var viewer = new Dictionary<string, string?>(_env) { ["TRELLIS_TOKEN"] = created.Stdout.Trim() };

        var refused = await ApplyAsync(viewer);
        Assert.Equal(1, refused.Exit);
        Assert.Contains("error: token \"viewer\" (role view) may not POST /apply: it needs role edit", refused.Stderr, StringComparison.Ordinal);
        var read = await TrellisProcess.RunWithAsync(viewer, "get", "svc");
        Assert.True(read.Exit == 0, read.Stderr);
        Assert.DoesNotContain("web", read.Stdout, StringComparison.Ordinal); // the refused apply changed nothing
        var mint = await TrellisProcess.RunWithAsync(viewer, "token", "create", "escalate", "--role", "admin");
        Assert.Equal(1, mint.Exit);

        var list = await TrellisProcess.RunWithAsync(_env, "token", "list");
        Assert.Contains("viewer", list.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(created.Stdout.Trim(), list.Stdout, StringComparison.Ordinal);
        var revoked = await TrellisProcess.RunWithAsync(_env, "token", "revoke", "viewer");
        Assert.True(revoked.Exit == 0, revoked.Stderr);
        var after = await TrellisProcess.RunWithAsync(viewer, "get", "svc");
        Assert.Equal(1, after.Exit);
        Assert.Contains("error: the token is not valid: unknown or revoked", after.Stderr, StringComparison.Ordinal);
        Assert.False(_processes[0].HasExited);
    }

    [Fact]
    public async Task StandaloneProxy_OwnTokenSyncs_AnotherNameRefusedAndStaysUp()
    {
        var created = await TrellisProcess.RunWithAsync(_env, "token", "create", "gateway/e2e", "--role", "proxy");
        Assert.True(created.Exit == 0, created.Stderr);
        var token = created.Stdout.Trim();

        var own = TrellisProcess.StartWith(_env, "proxy", "--name", "gateway/e2e", "--push", _push, "--server", _server, "--token", token);
        _processes.Add(own);
        var impostor = TrellisProcess.StartWith(_env, "proxy", "--name", "gateway/other", "--push", _push, "--server", _server, "--token", token);
        _processes.Add(impostor);

        await Eventually.WaitAsync(async () => (await TrellisProcess.RunWithAsync(_env, "get", "proxies")).Stdout.Contains("gateway/e2e", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60), "gateway/e2e connected", own);
        await Eventually.WaitAsync(() => Task.FromResult(impostor.Output.Contains("403", StringComparison.Ordinal)), TimeSpan.FromSeconds(60), "gateway/other refused", impostor);

        Assert.Contains("may open the push stream only as proxy \"gateway/e2e\"", impostor.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("gateway/other", (await TrellisProcess.RunWithAsync(_env, "get", "proxies")).Stdout, StringComparison.Ordinal);
        Assert.False(impostor.HasExited, "a refused proxy keeps running (and retrying):\n" + impostor.Output);
        Assert.False(own.HasExited);
    }

    private async Task<(int Exit, string Stdout, string Stderr)> ApplyAsync(IReadOnlyDictionary<string, string?> env)
    {
        var file = Path.Combine(_dir, "service.yaml");
        await File.WriteAllTextAsync(file, Service);
        return await TrellisProcess.RunWithAsync(env, "apply", "-f", file);
    }
}
