namespace Trellis.Api.Tests;

/// <summary>
/// The upstream conformance inputs in ../shared/conformance, read in place (never copied) from the directory
/// beside the repository root, which is found by walking up to Trellis.slnx.
/// </summary>
internal static class Conformance
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Root { get; } = Path.Combine(Path.GetDirectoryName(RepoRoot)!, "shared", "conformance");

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    /// <summary>Every *.yaml under <paramref name="folder"/>, relative to <see cref="Root"/>, sorted.</summary>
    public static TheoryData<string> Files(params string[] folders)
    {
        var data = new TheoryData<string>();
        foreach (var folder in folders)
        {
            var full = PathOf(folder);
            var files = File.Exists(full) ? [full] : Directory.GetFiles(full, "*.yaml", SearchOption.AllDirectories);
            foreach (var file in files.Order(StringComparer.Ordinal))
            {
                data.Add(Path.GetRelativePath(Root, file).Replace('\\', '/'));
            }
        }

        return data;
    }

    public static ReadResult Read(string relative) => ResourceReader.Read(File.ReadAllText(PathOf(relative)), relative);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Trellis.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"Trellis.slnx not found above {AppContext.BaseDirectory}.");
    }
}
