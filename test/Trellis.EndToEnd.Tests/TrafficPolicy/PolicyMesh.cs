using System.Net;

namespace Trellis.EndToEnd.Tests.TrafficPolicy;

/// <summary>
/// One <c>trellis up</c> of policy-mesh.yaml (echo backends that fail, stall or log on purpose) for
/// <see cref="TrafficPolicyTests"/>: free ports, a fresh data directory, requests through the ingress gateway by Host.
/// </summary>
public sealed class PolicyMesh : IAsyncLifetime
{
    private const int Pods = 9;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-policy-" + Guid.NewGuid().ToString("N"));

    public TrellisProcess Up { get; private set; } = null!;

    public string Server { get; private set; } = "";

    public int GatewayPort { get; private set; }

    public HttpClient Http { get; } = new(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false, UseCookies = false, MaxConnectionsPerServer = 64 })) { Timeout = TimeSpan.FromSeconds(15) };

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        GatewayPort = FreePorts.Next();
        var echo = Path.Combine(TrellisBinary.RepoRoot, "samples", "echo", "bin", "echo.dll");
        var source = await File.ReadAllTextAsync(Path.Combine(TrellisBinary.RepoRoot, "test", "Trellis.EndToEnd.Tests", "TrafficPolicy", "policy-mesh.yaml"));
        var mesh = Path.Combine(_dir, "policy-mesh.yaml");
        await File.WriteAllTextAsync(mesh, source.Replace("ECHO_DLL", echo, StringComparison.Ordinal).Replace("GATEWAY_PORT", GatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        var api = FreePorts.Next();
        Server = $"http://127.0.0.1:{api}";
        Up = TrellisProcess.Start("up", mesh, "--data-dir", Path.Combine(_dir, "data"),
            "--api-address", $"127.0.0.1:{api}", "--push-address", $"127.0.0.1:{FreePorts.Next()}");
        try
        {
            await WaitForAsync(async () => (await TrellisAsync("get", "pods")).Stdout.Split('\n').Count(l => l.Contains("1/1", StringComparison.Ordinal) && l.Contains("Ready", StringComparison.Ordinal)) >= Pods,
                TimeSpan.FromSeconds(120), $"{Pods} echo pods ready");
        }
        catch
        {
            await Up.DisposeAsync(); // xunit does not call DisposeAsync when InitializeAsync fails
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        await Up.DisposeAsync();
        Http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Applies <paramref name="yaml"/> and waits until the gateway routes <paramref name="host"/> (not 404 NR).</summary>
    public async Task ApplyAsync(string host, string yaml)
    {
        var file = Path.Combine(_dir, $"{host}-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, yaml);
        var (exit, stdout, stderr) = await TrellisAsync("apply", "-f", file);
        Assert.True(exit == 0, $"apply: {stdout}{stderr}");
        Assert.DoesNotContain("TRL0200", stdout + stderr, StringComparison.Ordinal); // nothing in these files is stored without behaviour
        await WaitForAsync(async () => (await SendAsync(host, HttpMethod.Get, "/ready")).Status != HttpStatusCode.NotFound, TimeSpan.FromSeconds(10), $"a route for {host}");
    }

    public async Task<Answer> SendAsync(string host, HttpMethod method, string path, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, $"http://127.0.0.1:{GatewayPort}{path}");
        request.Headers.Host = host;
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        var started = DateTime.UtcNow;
        using var response = await Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        var all = response.Headers.Concat(response.Content.Headers).ToDictionary(h => h.Key.ToLowerInvariant(), h => string.Join(",", h.Value));
        return new Answer(response.StatusCode, body, all, DateTime.UtcNow - started);
    }

    public Task<(int Exit, string Stdout, string Stderr)> TrellisAsync(params string[] args) => TrellisProcess.RunAsync(Server, args);

    public Task WaitForAsync(Func<Task<bool>> condition, TimeSpan limit, string what) => Eventually.WaitAsync(condition, limit, what, Up);

    public sealed record Answer(HttpStatusCode Status, string Body, IReadOnlyDictionary<string, string> Headers, TimeSpan Took)
    {
        public string Flags => Headers.GetValueOrDefault("x-trellis-response-flags", "");
    }
}
