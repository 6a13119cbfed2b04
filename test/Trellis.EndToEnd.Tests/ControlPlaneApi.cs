using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Trellis.EndToEnd.Tests;

/// <summary>
/// The control plane's HTTP API as the end-to-end tests drive it: apply and delete YAML (under a field-manager
/// <c>source</c>), health, reading objects (null while the API is not answering), and the outbound listener of a
/// ready pod — the port a test calls to be "inside the mesh" as that workload.
/// </summary>
public sealed class ControlPlaneApi(HttpClient http, string server, string source)
{
    // Every request carries the admin token of this control plane (ApiTokens), whatever handler the caller's client has.
    public string Server => server;

    public async Task ApplyAsync(string yaml)
    {
        using var response = await SendAsync(HttpMethod.Post, $"{server}/apply?source={source}", yaml);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"apply failed: {(int)response.StatusCode} {body}");
    }

    /// <summary>An apply that may be refused: its status and body.</summary>
    public async Task<(int Status, string Body)> TryApplyAsync(string yaml)
    {
        using var response = await SendAsync(HttpMethod.Post, $"{server}/apply?source={source}", yaml);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task DeleteAsync(string yaml)
    {
        using var response = await SendAsync(HttpMethod.Post, $"{server}/delete?source={source}", yaml);
        _ = await response.Content.ReadAsStringAsync();
    }

    public async Task<bool> HealthyAsync()
    {
        try
        {
            using var response = await http.GetAsync(server + "/healthz");
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    public async Task<JsonObject?> TryGetAsync(string path)
    {
        try
        {
            using var response = await SendAsync(HttpMethod.Get, server + path, null);
            return response.IsSuccessStatusCode ? (JsonNode.Parse(await response.Content.ReadAsStringAsync()) as JsonObject ?? []) : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException or SocketException)
        {
            return null;
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, string? yaml)
    {
        using var request = new HttpRequestMessage(method, url) { Content = yaml is null ? null : new StringContent(yaml, Encoding.UTF8, "application/yaml") };
        ApiTokens.Authorize(request);
        return await http.SendAsync(request);
    }

    /// <summary>The outbound port of a ready pod in <paramref name="ns"/> (of <paramref name="deployment"/>, or any).</summary>
    public async Task<int> OutboundPortAsync(TrellisProcess up, string ns = "default", string? deployment = null)
    {
        var port = 0;
        await Eventually.WaitAsync(async () =>
        {
            var pods = await TryGetAsync($"/api/v1/namespaces/{ns}/pods");
            var pod = (pods?["items"] as JsonArray ?? []).FirstOrDefault(p =>
                (deployment is null || (string?)p?["metadata"]?["ownerReferences"]?[0]?["name"] == deployment) && (bool?)p?["status"]?["ready"] == true);
            port = (int?)pod?["status"]?["ports"]?["outbound"] ?? 0;
            return port != 0;
        }, TimeSpan.FromSeconds(60), $"a ready {ns}/{deployment ?? "pod"}", up);
        return port;
    }
}
