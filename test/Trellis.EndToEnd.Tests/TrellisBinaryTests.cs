namespace Trellis.EndToEnd.Tests;

/// <summary>When the tests rebuild the binary they drive: ./trellis's rule, on a folder of their own.</summary>
public sealed class TrellisBinaryTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("trellis-binary-test-");

    public void Dispose() => _root.Delete(recursive: true);

    [Fact]
    public void IsStale_NoStamp_True()
    {
        Assert.True(TrellisBinary.IsStale(_root.FullName, Path.Combine(_root.FullName, ".built")));
    }

    [Theory]
    [InlineData("src/Trellis.Cli/Program.cs", true)]
    [InlineData("src/Trellis.Cli/Trellis.Cli.csproj", true)]
    [InlineData("samples/bookinfo/src/Reviews.cs", true)]
    [InlineData("src/Trellis.Cli/README.md", false)]
    [InlineData("test/Trellis.EndToEnd.Tests/Tests.cs", false)]
    public void IsStale_FileNewerThanTheStamp_TrueOnlyForSources(string file, bool stale)
    {
        var stamp = Path.Combine(_root.FullName, ".built");
        var old = Write("src/Trellis.Cli/Old.cs", DateTime.UtcNow.AddHours(-2));
        Write(".built", DateTime.UtcNow.AddHours(-1));
        Assert.False(TrellisBinary.IsStale(_root.FullName, stamp), $"{old} is older than the stamp");

        Write(file, DateTime.UtcNow);

        Assert.Equal(stale, TrellisBinary.IsStale(_root.FullName, stamp));
    }

    private string Write(string relative, DateTime modified)
    {
        var path = Path.Combine(_root.FullName, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "x");
        File.SetLastWriteTimeUtc(path, modified);
        return path;
    }
}
