using System.Diagnostics;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// Finds the real <c>trellis</c> binary (artifacts/trellis, as scripts/test and ./trellis build it) and the
/// samples, and builds them once per test run when a source is newer than the last build, as ./trellis does
/// (the same stamp file, artifacts/trellis/.built), so a bare `dotnet test` never drives a stale binary.
/// </summary>
public static class TrellisBinary
{
    private static readonly Lazy<string> Built = new(Build);

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Dll => Built.Value;

    public static string Conformance(string relative) => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "conformance", relative));

    /// <summary>
    /// Whether the build stamped by <paramref name="stamp"/> is missing or older than a source: a <c>.cs</c>
    /// or <c>.csproj</c> under <c>src/</c> or <c>samples/</c> of <paramref name="root"/> (./trellis's rule).
    /// </summary>
    public static bool IsStale(string root, string stamp)
    {
        if (!File.Exists(stamp))
        {
            return true;
        }

        var built = File.GetLastWriteTimeUtc(stamp);
        return new[] { "src", "samples" }
            .Select(folder => Path.Combine(root, folder))
            .Where(Directory.Exists)
            .SelectMany(folder => Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
            .Where(file => file.EndsWith(".cs", StringComparison.Ordinal) || file.EndsWith(".csproj", StringComparison.Ordinal))
            .Any(file => File.GetLastWriteTimeUtc(file) > built);
    }

    private static string Build()
    {
        var output = Path.Combine(RepoRoot, "artifacts", "trellis");
        var stamp = Path.Combine(output, ".built");
        if (IsStale(RepoRoot, stamp) || !File.Exists(Path.Combine(output, "trellis.dll")) || !File.Exists(Path.Combine(output, "trellis-poolhost.dll")))
        {
            Run("build src/Trellis.Cli/Trellis.Cli.csproj -c Release -o artifacts/trellis -nologo -clp:ErrorsOnly");
            Run("build samples/bookinfo/src/Bookinfo.csproj -c Release -nologo -clp:ErrorsOnly");
            Run("build samples/functions/src/Functions.csproj -c Release -nologo -clp:ErrorsOnly");
            Run("build samples/echo/src/Echo.csproj -c Release -nologo -clp:ErrorsOnly");
            Run("build samples/grpc/src/Chain.csproj -c Release -nologo -clp:ErrorsOnly");
            File.WriteAllBytes(stamp, []);
        }

        return Path.Combine(output, "trellis.dll");
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
