using System.Diagnostics;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// Finds the real <c>trellis</c> binary (artifacts/trellis, as scripts/test and ./trellis build it) and the
/// bookinfo sample, building them once per test run when they are missing, so `dotnet test` alone works.
/// </summary>
public static class TrellisBinary
{
    private static readonly Lazy<string> Built = new(Build);

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Dll => Built.Value;

    public static string Conformance(string relative) => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "conformance", relative));

    private static string Build()
    {
        var dll = Path.Combine(RepoRoot, "artifacts", "trellis", "trellis.dll");
        if (!File.Exists(dll) || !File.Exists(Path.Combine(RepoRoot, "artifacts", "trellis", "trellis-poolhost.dll")))
        {
            Run("build src/Trellis.Cli/Trellis.Cli.csproj -c Release -o artifacts/trellis -nologo -clp:ErrorsOnly");
        }

        if (!File.Exists(Path.Combine(RepoRoot, "samples", "bookinfo", "bin", "bookinfo.dll")))
        {
            Run("build samples/bookinfo/src/Bookinfo.csproj -c Release -nologo -clp:ErrorsOnly");
        }

        return dll;
    }

    private static void Run(string args)
    {
        using var p = Process.Start(new ProcessStartInfo("dotnet", args) { WorkingDirectory = RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet {args} failed:\n{output.Result}\n{errors.Result}");
        }
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
