using System.Net.Sockets;

namespace Trellis.Runtime;

/// <summary>
/// Runs single probe attempts against an instance's app port. One instance serves the whole node:
/// the HTTP client is shared, never uses a proxy (the probe targets the process, not the mesh) and
/// closes each connection, as the kubelet does, so a restarted process is never probed through a
/// stale pooled connection.
/// </summary>
internal sealed class ReadinessProber(string host, TimeProvider time) : IDisposable
{
    private readonly HttpClient http = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>True when the probe passes; false on refusal, timeout or a non-2xx/3xx answer.</summary>
    public async Task<bool> ProbeAsync(ProbeSpec probe, int port, CancellationToken ct)
    {
        using var timeout = new CancellationTokenSource(probe.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
        try
        {
            return probe.Kind switch
            {
                ProbeKind.Http => await HttpAsync(probe.Path, port, linked.Token),
                _ => await TcpAsync(port, linked.Token),
            };
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    public void Dispose() => http.Dispose();

    private async Task<bool> TcpAsync(int port, CancellationToken ct)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(host, port, ct);
        return true;
    }

    private async Task<bool> HttpAsync(string? path, int port, CancellationToken ct)
    {
        var target = string.IsNullOrEmpty(path) ? "/" : path[0] == '/' ? path : "/" + path;
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{host}:{port}{target}");
        request.Headers.ConnectionClose = true;
        request.Headers.UserAgent.ParseAdd("trellis-probe/1.0");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        var status = (int)response.StatusCode;
        return status is >= 200 and < 400;
    }
}
