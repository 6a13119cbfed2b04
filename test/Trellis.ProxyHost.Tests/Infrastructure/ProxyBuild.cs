using System.Diagnostics;

namespace Trellis.ProxyHost.Tests.Infrastructure;

/// <summary>
/// The two builds of <c>trellis-proxy</c> under comparison: the JIT one (trellis-proxy.dll in this test's
/// output, from the project reference) and the Native AOT executable that scripts/build-proxy publishes
/// into artifacts/trellis-proxy (built here when missing or out of date, once per test run).
/// </summary>
public sealed record ProxyBuild(string Name, string FileName, IReadOnlyList<string> Prefix)
{
    private static readonly Lazy<ProxyBuild> AotBuild = new(BuildAot);

    public static ProxyBuild Jit { get; } = new("jit", "dotnet", [Path.Combine(AppContext.BaseDirectory, "trellis-proxy.dll")]);

    public static ProxyBuild Aot => AotBuild.Value;

    public static IEnumerable<ProxyBuild> Both => [Jit, Aot];

    public static string RepoRoot { get; } = FindRepoRoot();

    public ProcessStartInfo StartInfo(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(FileName) { WorkingDirectory = RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in Prefix.Concat(args))
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment.Remove("HTTP_PROXY");
        info.Environment.Remove("http_proxy");
        info.Environment.Remove("TRELLIS_TOKEN"); // a test gives the proxy its token on the command line, or none
        return info;
    }

    public override string ToString() => Name;

    private static ProxyBuild BuildAot()
    {
        var script = Path.Combine(RepoRoot, "scripts", "build-proxy");
        using var build = Process.Start(new ProcessStartInfo(script) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = build.StandardOutput.ReadToEndAsync();
        var errors = build.StandardError.ReadToEndAsync();
        build.WaitForExit();
        if (build.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/build-proxy failed:\n{errors.Result}");
        }

        var exe = output.Result.Trim();
        if (!File.Exists(exe))
        {
            throw new InvalidOperationException($"scripts/build-proxy printed {exe}, which does not exist");
        }

        return new ProxyBuild("aot", exe, []);
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Trellis.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Trellis.slnx not found above the test binaries");
    }
}
