namespace Trellis.Eventing.Tests;

/// <summary>
/// The upstream conformance inputs in shared/conformance, read in place (never copied): the first
/// directory above the repository root (found by Trellis.slnx) that holds shared/conformance.
/// </summary>
internal static class Conformance
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    private static string FindRoot()
    {
        var repo = new DirectoryInfo(AppContext.BaseDirectory);
        while (repo is not null && !File.Exists(Path.Combine(repo.FullName, "Trellis.slnx")))
        {
            repo = repo.Parent;
        }

        for (var dir = repo?.Parent; dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "conformance");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"shared/conformance not found above {AppContext.BaseDirectory}.");
    }
}
