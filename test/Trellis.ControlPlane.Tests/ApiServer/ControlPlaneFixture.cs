using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Trellis.ControlPlane.Tests.ApiServer;

/// <summary>A real control plane on free loopback ports with a fresh data directory, per test.</summary>
public sealed class ControlPlaneFixture : IAsyncDisposable
{
    private readonly string _dir;

    private ControlPlaneFixture(string dir, ControlPlaneHost host)
    {
        _dir = dir;
        Host = host;
        Http = AdminClients.For(host);
        AdminToken = AdminClients.Token(host);
    }

    public ControlPlaneHost Host { get; }

    public HttpClient Http { get; }

    public string AdminToken { get; }

    /// <param name="tls">Serve the API and the push stream over TLS (<c>--api-tls</c>); <see cref="Http"/> trusts the CA's roots.</param>
    public static async Task<ControlPlaneFixture> StartAsync(bool tls = false)
    {
        var dir = Path.Combine(Path.GetTempPath(), "trellis-cp-" + Guid.NewGuid().ToString("N"));
        var host = await ControlPlaneHost.StartAsync(new ControlPlaneOptions
        {
            DataDirectory = dir,
            ApiEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            PushEndpoint = new IPEndPoint(IPAddress.Loopback, 0),
            Tls = tls,
        }, NullLoggerFactory.Instance);
        return new ControlPlaneFixture(dir, host);
    }

    public async Task<(HttpStatusCode Status, JsonNode? Body)> PostAsync(string path, string body)
    {
        using var response = await Http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/yaml"));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length > 0 && text.TrimStart().StartsWith('{') ? JsonNode.Parse(text) : null);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Host.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }
}
