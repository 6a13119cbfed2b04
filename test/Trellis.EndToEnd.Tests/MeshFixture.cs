using System.Net;
using System.Text.RegularExpressions;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// One <c>trellis up</c> with bookinfo for the routing tests: free ports for the API, the push stream
/// and the gateway (a copy of the sample's Gateway with the port changed), a fresh data directory.
/// </summary>
public sealed partial class MeshFixture : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "trellis-e2e-" + Guid.NewGuid().ToString("N"));

    public TrellisProcess Up { get; private set; } = null!;

    public string Server { get; private set; } = "";

    public int GatewayPort { get; private set; }

    /// <summary>The loopback range Gateway API Gateways get addresses from: one /24 per run, so runs do not collide on port 80.</summary>
    public string GatewayAddresses { get; } = $"127.{System.Security.Cryptography.RandomNumberGenerator.GetInt32(101, 250)}.{System.Security.Cryptography.RandomNumberGenerator.GetInt32(1, 250)}.0/24";

    public HttpClient Http { get; } = new(ApiTokens.Wrap(new SocketsHttpHandler { UseProxy = false, UseCookies = false })) { Timeout = TimeSpan.FromSeconds(10) };

    public string DataDirectory => _dir;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        GatewayPort = FreePorts.Next();
        var gateway = Path.Combine(_dir, "gateway.yaml");
        var sample = await File.ReadAllTextAsync(Path.Combine(TrellisBinary.RepoRoot, "samples", "bookinfo", "gateway.yaml"));
        await File.WriteAllTextAsync(gateway, sample.Replace("number: 8080", $"number: {GatewayPort}", StringComparison.Ordinal));
        var api = FreePorts.Next();
        Server = $"http://127.0.0.1:{api}";
        Up = TrellisProcess.Start("up", "samples/bookinfo/bookinfo.yaml", gateway, "--data-dir", Path.Combine(_dir, "data"),
            "--api-address", $"127.0.0.1:{api}", "--push-address", $"127.0.0.1:{FreePorts.Next()}", "--gateway-addresses", GatewayAddresses);
        try
        {
            await WaitForAsync(async () => ReviewsVersion(await ProductPageAsync()) is "v1" or "v2" or "v3", TimeSpan.FromSeconds(90), "productpage through the gateway");
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

    public async Task<string> ProductPageAsync(string? user = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{GatewayPort}/productpage");
        if (user is not null)
        {
            request.Headers.Add("Cookie", "user=" + user);
        }

        try
        {
            using var response = await Http.SendAsync(request);
            return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsStringAsync() : $"status {(int)response.StatusCode}";
        }
        catch (HttpRequestException e)
        {
            return "error " + e.Message;
        }
        catch (TaskCanceledException)
        {
            return "timeout";
        }
    }

    /// <summary>Which reviews version composed the page: v1, v2, v3, "unavailable", or the failure.</summary>
    public static string ReviewsVersion(string page) =>
        VersionMarker().Match(page) is { Success: true } m ? m.Groups[1].Value : page.Length > 200 ? page[..200] : page;

    public async Task<Dictionary<string, int>> SampleAsync(int requests, string? user = null)
    {
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < requests; i++)
        {
            var v = ReviewsVersion(await ProductPageAsync(user));
            counts[v] = counts.GetValueOrDefault(v) + 1;
        }

        return counts;
    }

    public Task<(int Exit, string Stdout, string Stderr)> TrellisAsync(params string[] args) => TrellisProcess.RunAsync(Server, args);

    public Task WaitForAsync(Func<Task<bool>> condition, TimeSpan limit, string what) => Eventually.WaitAsync(condition, limit, what, Up);

    [GeneratedRegex("data-version=\"([^\"]*)\"")]
    private static partial Regex VersionMarker();
}
