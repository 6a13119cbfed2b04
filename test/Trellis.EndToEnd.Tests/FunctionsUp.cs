namespace Trellis.EndToEnd.Tests;

/// <summary>
/// <c>trellis up</c> for the serving tests: the functions sample's Gateway with its port changed to a free one, the
/// given files, a data directory under the test's own folder, free API and push ports; returned once it prints
/// that it is ready. A start that fails stops the process and deletes <c>dir</c> before the exception leaves (xunit
/// does not call DisposeAsync when InitializeAsync throws).
/// </summary>
internal static class FunctionsUp
{
    public static async Task<TrellisProcess> StartAsync(string dir, int gatewayPort, int apiPort, params string[] files)
    {
        var gateway = await GatewayFileAsync(dir, gatewayPort);
        var up = TrellisProcess.Start([
            "up", gateway, .. files, "--data-dir", Path.Combine(dir, "data"),
            "--api-address", $"127.0.0.1:{apiPort}", "--push-address", $"127.0.0.1:{FreePorts.Next()}"]);
        try
        {
            await WaitUntilReadyAsync(up);
            return up;
        }
        catch
        {
            await up.DisposeAsync();
            Directory.Delete(dir, recursive: true);
            throw;
        }
    }

    /// <summary>The functions sample's Gateway listening on <paramref name="port"/>, written into <paramref name="dir"/>.</summary>
    public static async Task<string> GatewayFileAsync(string dir, int port)
    {
        var path = Path.Combine(dir, "gateway.yaml");
        var sample = await File.ReadAllTextAsync(Path.Combine(TrellisBinary.RepoRoot, "samples", "functions", "gateway.yaml"));
        await File.WriteAllTextAsync(path, sample.Replace("number: 8080", $"number: {port}", StringComparison.Ordinal));
        return path;
    }

    /// <summary><c>trellis up</c> prints its hints once every part is serving.</summary>
    public static Task WaitUntilReadyAsync(TrellisProcess up) =>
        Eventually.WaitAsync(() => Task.FromResult(up.Output.Contains("Press Ctrl-C", StringComparison.Ordinal)), TimeSpan.FromSeconds(60), "trellis up ready", up);
}
