using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Trellis.Cli.Client;

/// <summary>The client verbs' only way to the control plane: its HTTP API, on the first of its replicas that answers.</summary>
public sealed class ControlPlaneClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly Trellis.Agent.Replicas.ReplicaFailoverHandler _replicas;
    private readonly string _servers;

    public ControlPlaneClient(Uri server, string? token, Trellis.Api.Access.ControlPlaneTrust? trust = null)
        : this([server], token, trust)
    {
    }

    /// <param name="token">The bearer token every request carries; null sends none (the API answers 401 but for health).</param>
    /// <param name="trust">How an https API's certificate is checked; null: the system's roots.</param>
    public ControlPlaneClient(IReadOnlyList<Uri> servers, string? token, Trellis.Api.Access.ControlPlaneTrust? trust = null)
    {
        _replicas = Trellis.Agent.Replicas.ReplicaFailoverHandler.Create(servers, trust);
        HttpMessageHandler handler = token is null ? _replicas : new Trellis.Api.Access.CredentialHandler(new Trellis.Api.Access.BearerCredential(token), _replicas);
        _http = new HttpClient(handler) { BaseAddress = servers[0], Timeout = Timeout.InfiniteTimeSpan };
        _servers = string.Join(",", servers.Select(s => s.ToString().TrimEnd('/')));
    }

    /// <summary>The replica in use.</summary>
    public Uri Server => _replicas.Current;

    public async Task<ApiResponse> SendAsync(HttpMethod method, string path, string? body = null, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/yaml");
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            using var response = await _http.SendAsync(request, timeout.Token);
            var text = await response.Content.ReadAsStringAsync(timeout.Token);
            JsonNode? json = null;
            if (response.Content.Headers.ContentType?.MediaType == "application/json" && text.Length > 0)
            {
                json = JsonNode.Parse(text);
            }

            return new ApiResponse(response.StatusCode, text, json);
        }
        catch (HttpRequestException e)
        {
            throw new UnreachableException(_servers, e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new UnreachableException(_servers, e);
        }
    }

    /// <summary>Streams a text response line by line (logs -f, watch).</summary>
    public async IAsyncEnumerable<string> StreamLinesAsync(string path, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (HttpRequestException e)
        {
            throw new UnreachableException(_servers, e);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var text = (await response.Content.ReadAsStringAsync(ct)).Trim();
                var message = response.Content.Headers.ContentType?.MediaType == "application/json" && text.Length > 0
                    ? JsonNode.Parse(text)?["message"]?.GetValue<string>() ?? text
                    : text;
                throw new ApiException(response.StatusCode, message);
            }

            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                yield return line;
            }
        }
    }

    public void Dispose() => _http.Dispose();
}

public sealed record ApiResponse(HttpStatusCode Status, string Text, JsonNode? Json)
{
    public bool Ok => (int)Status is >= 200 and < 300;

    /// <summary>The message of a Kubernetes-style Status failure, or the raw text.</summary>
    public string Message => Json?["message"]?.GetValue<string>() ?? Text.Trim();
}

public sealed class UnreachableException(string server, Exception inner)
    : Exception(inner is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError }
        ? $"cannot reach the control plane at {server}: its TLS certificate is not trusted ({inner.InnerException?.Message ?? inner.Message}); "
            + "give its CA's root-cert.pem with --ca-file, TRELLIS_CA_FILE or the context's certificate-authority"
        : $"cannot reach the control plane at {server} ({inner.Message}); is `trellis up` running? (use --server or TRELLIS_SERVER)", inner)
{
    public UnreachableException(Uri server, Exception inner)
        : this(server.ToString(), inner)
    {
    }
}

public sealed class ApiException(HttpStatusCode status, string message) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;
}
