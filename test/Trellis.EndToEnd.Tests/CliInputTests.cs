namespace Trellis.EndToEnd.Tests;

/// <summary>What a script sees from the client verbs: exit codes and precise messages.</summary>
public sealed class CliInputTests
{
    [Fact]
    public async Task Apply_ServerDown_ExitsUnreachable()
    {
        var (exit, _, stderr) = await TrellisProcess.RunAsync($"http://127.0.0.1:{FreePorts.Next()}", "apply", "-f", TrellisBinary.Conformance("istio-bookinfo/networking/destination-rule-all.yaml"));
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

    [Theory]
    [InlineData("redis://127.0.0.1:6379", "--event-store: \"redis://127.0.0.1:6379\" is not file or nats://host:port")]
    [InlineData("nats://127.0.0.1", "is not file or nats://host:port")]
    public async Task ControlPlane_BadEventStore_ExitsUsageAndStartsNothing(string store, string message)
    {
        var dir = Path.Combine(Path.GetTempPath(), "trellis-e2e-cli-" + Guid.NewGuid().ToString("N"));
        var api = FreePorts.Next();
        var (exit, _, stderr) = await TrellisProcess.RunAsync("http://127.0.0.1:1", "controlplane", "--data-dir", dir, "--api-address", $"127.0.0.1:{api}", "--event-store", store);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir), "nothing may be created for a rejected command line");
    }

    [Fact]
    public async Task ControlPlane_EventStoreUnreachable_ExitsRejectedInOneLine()
    {
        var dir = Path.Combine(Path.GetTempPath(), "trellis-e2e-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (exit, _, stderr) = await TrellisProcess.RunAsync(
                "http://127.0.0.1:1", "controlplane", "--data-dir", dir, "--api-address", $"127.0.0.1:{FreePorts.Next()}",
                "--push-address", $"127.0.0.1:{FreePorts.Next()}", "--broker-address", $"127.0.0.1:{FreePorts.Next()}",
                "--event-store", $"nats://127.0.0.1:{FreePorts.Next()}");
            Assert.Equal(1, exit);
            Assert.Contains("error: JetStream at nats://127.0.0.1:", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }
}
