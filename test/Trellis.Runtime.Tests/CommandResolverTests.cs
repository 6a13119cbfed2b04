namespace Trellis.Runtime.Tests;

public class CommandResolverTests
{
    [Fact]
    public void Resolve_BareNameOnPath_ReturnsFullPath()
    {
        Assert.Equal("/bin/sh", CommandResolver.Resolve("sh", "/", "/nonexistent:/bin"));
    }

    [Fact]
    public void Resolve_BareNameMissing_ReturnsNull()
    {
        Assert.Null(CommandResolver.Resolve("no-such-command-xyz", "/", "/bin:/usr/bin"));
    }

    [Fact]
    public void Resolve_RelativePath_ResolvesAgainstWorkingDirectory()
    {
        Assert.Equal("/bin/sh", CommandResolver.Resolve("./sh", "/bin", null));
    }

    [Fact]
    public void Resolve_FileNotExecutable_ReturnsNull()
    {
        var file = Path.GetTempFileName();
        try
        {
            Assert.Null(CommandResolver.Resolve(file, "/", null));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
