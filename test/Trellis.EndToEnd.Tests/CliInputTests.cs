namespace Trellis.EndToEnd.Tests;

/// <summary>What a script sees from the client verbs: exit codes and precise messages.</summary>
public sealed class CliInputTests
{
    [Fact]
    public async Task Apply_ServerDown_ExitsUnreachable()
    {
        var (exit, _, stderr) = await TrellisProcess.RunAsync($"http://127.0.0.1:{TrellisProcess.FreePort()}", "apply", "-f", TrellisBinary.Conformance("istio-bookinfo/networking/destination-rule-all.yaml"));
        Assert.Equal(3, exit);
        Assert.Contains("cannot reach the control plane", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_MissingFile_ExitsUsage()
    {
        var (exit, _, stderr) = await TrellisProcess.RunAsync("http://127.0.0.1:1", "apply", "-f", "/nonexistent.yaml");
        Assert.Equal(2, exit);
        Assert.Contains("/nonexistent.yaml", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApplyWait_BadTimeout_ExitsUsage()
    {
        var (exit, _, stderr) = await TrellisProcess.RunAsync("http://127.0.0.1:1", "apply", "--wait", "--timeout", "soon", "-f", "/nonexistent.yaml");
        Assert.Equal(2, exit);
        Assert.Contains("--timeout soon: expected a duration such as 30s or 2m", stderr, StringComparison.Ordinal);
    }
}
