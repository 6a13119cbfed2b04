namespace Trellis.EndToEnd.Tests;

/// <summary>
/// The client verbs against a real `trellis controlplane`, as a new user meets them: the README's exit
/// codes row by row, options that do not exist, YAML errors shown at their line, JSON output.
/// </summary>
public sealed class CliControlPlaneTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-cli-" + Guid.NewGuid().ToString("N"));
    private TrellisProcess _cp = null!;
    private string _server = "";

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        var api = FreePorts.Next();
        _server = $"http://127.0.0.1:{api}";
        _cp = TrellisProcess.Start("controlplane", "--data-dir", Path.Combine(_dir, "data"), "--api-address", $"127.0.0.1:{api}", "--push-address", $"127.0.0.1:{FreePorts.Next()}");
        using var http = new HttpClient(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false })) { BaseAddress = new Uri(_server) };
        try
        {
            await Eventually.WaitAsync(async () =>
            {
                try
                {
                    using var response = await http.GetAsync("/healthz");
                    return response.IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(30), "control plane healthy", _cp);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        await _cp.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>README, "Exit codes": one row each (3, unreachable, is in CliInputTests).</summary>
    [Theory]
    [InlineData(0, "success", new[] { "get", "vs" })]
    [InlineData(1, "refused: not found", new[] { "get", "vs", "nosuch" })]
    [InlineData(2, "no verb", new string[0])]
    [InlineData(2, "apply without -f", new[] { "apply" })]
    [InlineData(2, "get without a type", new[] { "get" })]
    [InlineData(2, "an option that does not exist", new[] { "get", "pods", "--bogus" })]
    [InlineData(2, "an unknown verb", new[] { "gett", "pods" })]
    public async Task ExitCode_EachRowOfTheReadmeTable(int expected, string what, string[] args)
    {
        var (exit, stdout, stderr) = await TrellisProcess.RunAsync(_server, args);

        Assert.True(exit == expected, $"{what}: exit {exit}, expected {expected}\n{stdout}{stderr}");
        if (expected == 2)
        {
            Assert.StartsWith("error: ", stderr, StringComparison.Ordinal);
            Assert.Contains("--help' for usage.", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Get_UnknownOption_RejectedNotReadAsAName()
    {
        var (exit, _, stderr) = await TrellisProcess.RunAsync(_server, "get", "pods", "--bogus");

        Assert.Equal(2, exit);
        Assert.Contains("unknown option '--bogus'", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("not found", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_YamlSyntaxError_ShowsTheLineWithACaretAndAPlainSentence()
    {
        var file = Path.Combine(_dir, "broken.yaml");
        await File.WriteAllTextAsync(file, "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n    labels: {}\n");

        var (exit, _, stderr) = await TrellisProcess.RunAsync(_server, "apply", "-f", file);

        Assert.Equal(1, exit);
        Assert.DoesNotContain("While parsing", stderr, StringComparison.Ordinal);
        var lines = stderr.Split('\n');
        var at = Array.FindIndex(lines, l => l.Contains("error TRL0001", StringComparison.Ordinal));
        Assert.True(at >= 0, stderr);
        var line = int.Parse(lines[at].Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        var column = int.Parse(lines[at].Split(':')[2], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal($"  {line} | {File.ReadAllLines(file)[line - 1]}", lines[at + 1]);
        Assert.Equal($"  {new string(' ', lines[at].Split(':')[1].Length)} | {new string(' ', column - 1)}^", lines[at + 2]);
    }

    [Fact]
    public async Task Get_OutputJson_DoesNotEscapePlus()
    {
        var file = Path.Combine(_dir, "cm.yaml");
        await File.WriteAllTextAsync(file, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {at: \"2026-01-01T00:00:00+01:00\"}\n");
        Assert.Equal(0, (await TrellisProcess.RunAsync(_server, "apply", "-f", file)).Exit);

        var (exit, stdout, _) = await TrellisProcess.RunAsync(_server, "get", "configmap", "c", "-o", "json");

        Assert.Equal(0, exit);
        Assert.Contains("\"2026-01-01T00:00:00+01:00\"", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u002B", stdout, StringComparison.Ordinal);
    }
}
