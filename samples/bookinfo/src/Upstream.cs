using System.Net;
using System.Text.Json.Nodes;

namespace Bookinfo;

/// <summary>
/// Another bookinfo service, reached at <c>http://&lt;name&gt;[.SERVICES_DOMAIN]:9080</c> like Istio's
/// apps do. <c>&lt;NAME&gt;_HOSTNAME</c> and <c>&lt;NAME&gt;_SERVICE_PORT</c> override host and port
/// (Istio's reviews reads the same two variables for ratings). The HTTP client keeps the default
/// proxy behaviour, so <c>HTTP_PROXY</c> from the mesh is honoured and nothing is hardcoded.
/// </summary>
internal sealed class Upstream
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        AllowAutoRedirect = false,
        UseCookies = false,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    private readonly ILogger logger;

    public Upstream(string name, ILogger logger)
    {
        this.logger = logger;
        var prefix = name.ToUpperInvariant();
        var domain = Environment.GetEnvironmentVariable("SERVICES_DOMAIN") is { Length: > 0 } d ? "." + d : "";
        var host = Environment.GetEnvironmentVariable(prefix + "_HOSTNAME") is { Length: > 0 } h ? h : name + domain;
        var port = Environment.GetEnvironmentVariable(prefix + "_SERVICE_PORT") is { Length: > 0 } p ? p : "9080";
        BaseUrl = $"http://{host}:{port}";
    }

    public string BaseUrl { get; }

    /// <summary>GETs <paramref name="path"/>; a transport error or timeout is status 0 with no body.</summary>
    public async Task<(int Status, JsonNode? Body)> GetJsonAsync(string path, HttpRequest incoming, IReadOnlyDictionary<string, string>? extraHeaders, TimeSpan timeout, CancellationToken ct)
    {
        var url = BaseUrl + path;
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        TraceHeaders.Copy(incoming, request);
        foreach (var (name, value) in extraHeaders ?? new Dictionary<string, string>())
        {
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            using var response = await Http.SendAsync(request, deadline.Token);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                logger.UpstreamFailed(url, "status " + (int)response.StatusCode);
                return ((int)response.StatusCode, null);
            }

            var text = await response.Content.ReadAsStringAsync(deadline.Token);
            return (200, JsonNode.Parse(text));
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or System.Text.Json.JsonException)
        {
            logger.UpstreamFailed(url, e is OperationCanceledException ? $"timed out after {timeout.TotalSeconds}s" : e.Message);
            return (0, null);
        }
    }
}
