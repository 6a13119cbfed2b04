using Trellis.ProxyHost.Tests.Infrastructure;

namespace Trellis.ProxyHost.Tests;

/// <summary>Bad input to either build: the same precise error, the same exit code (README, "Exit codes"), nothing served.</summary>
public sealed class CommandLineParityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trellis-proxy-cli").FullName;

    public static TheoryData<string, string?, int, string> BadInputs() => new()
    {
        { "missing file", null, 2, "error: " },
        { "not JSON", "{\"version\": ", 2, "error: " },
        { "a field of the wrong type", """{"version":"1","listeners":[{"name":"l","port":"eighty"}],"routeTables":[],"clusters":[]}""", 2, "error: " },
        {
            "a route to an unknown cluster",
            """
            {"version":"1","listeners":[{"name":"l","address":"127.0.0.1","port":0,"kind":"gateway","routeTable":"rt"}],
             "routeTables":[{"name":"rt","virtualHosts":[{"name":"v","domains":["*"],"routes":[{"name":"r","matches":[],"clusters":[{"cluster":"nosuch","weight":1}]}]}]}],
             "clusters":[]}
            """,
            1,
            "snapshot rejected:"
        },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Snapshot_BadFile_SameErrorAndExitCodeBothBuilds(string what, string? content, int exit, string message)
    {
        var file = Path.Combine(_dir, "snapshot.json");
        if (content is not null)
        {
            await File.WriteAllTextAsync(file, content);
        }

        var jit = await ProxyProcess.RunAsync(ProxyBuild.Jit, "--snapshot", file, "--log-level", "warning");
        var aot = await ProxyProcess.RunAsync(ProxyBuild.Aot, "--snapshot", file, "--log-level", "warning");

        Assert.True(jit.Exit == exit && jit.Stderr.Contains(message, StringComparison.Ordinal), $"{what}: JIT exited {jit.Exit}: {jit.Stderr}");
        Assert.Equal((jit.Exit, Untimed(jit.Stdout), jit.Stderr), (aot.Exit, Untimed(aot.Stdout), aot.Stderr));
    }

    [Fact]
    public async Task Label_NotKeyValue_UsageErrorBothBuilds()
    {
        var jit = await ProxyProcess.RunAsync(ProxyBuild.Jit, "--label", "nokey");
        var aot = await ProxyProcess.RunAsync(ProxyBuild.Aot, "--label", "nokey");

        Assert.Equal((2, "error: --label must be key=value"), (jit.Exit, jit.Stderr.Trim()));
        Assert.Equal((jit.Exit, jit.Stderr), (aot.Exit, aot.Stderr));
    }

    [Fact]
    public async Task Push_WithoutToken_UsageErrorBothBuilds()
    {
        var jit = await ProxyProcess.RunAsync(ProxyBuild.Jit, "--name", "gateway/x", "--push", "http://127.0.0.1:1", "--server", "http://127.0.0.1:1");
        var aot = await ProxyProcess.RunAsync(ProxyBuild.Aot, "--name", "gateway/x", "--push", "http://127.0.0.1:1", "--server", "http://127.0.0.1:1");

        Assert.Equal((2, "error: a proxy fed by the control plane needs a token of role proxy (--token or TRELLIS_TOKEN): trellis token create gateway/x --role proxy"), (jit.Exit, jit.Stderr.Trim()));
        Assert.Equal((jit.Exit, jit.Stderr), (aot.Exit, aot.Stderr));
    }

    [Fact]
    public async Task Help_SameOptionsBothBuilds()
    {
        var jit = await ProxyProcess.RunAsync(ProxyBuild.Jit, "--help");
        var aot = await ProxyProcess.RunAsync(ProxyBuild.Aot, "--help");

        Assert.Contains("--snapshot", jit.Stdout, StringComparison.Ordinal);
        Assert.Equal(jit.Stdout, aot.Stdout);
    }

    /// <summary>Log lines start with the time of day (to the millisecond), which two runs need not share.</summary>
    private static string Untimed(string output) =>
        System.Text.RegularExpressions.Regex.Replace(output, @"(?m)^\d\d:\d\d:\d\d\.\d{3} ", "");

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
