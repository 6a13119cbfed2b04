using System.Globalization;
using Trellis.Eventing.Async;
using Trellis.Eventing.Delivery;

namespace Trellis.ControlPlane.Eventing;

/// <summary>
/// Runs a queued call through the ingress gateway with the function's host, exactly as a synchronous
/// call would go (so the activator starts a function at zero), and posts results to callbacks with
/// OpenFaaS's headers (<c>X-Call-Id</c>, <c>X-Function-Name</c>, <c>X-Function-Status</c>,
/// <c>X-Duration-Seconds</c>).
/// </summary>
internal sealed class GatewayFunctionInvoker(HttpClient client, Uri gateway, TimeSpan timeout) : IFunctionInvoker
{
    private static readonly HashSet<string> NotForwarded = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "TE", "Trailer", "Proxy-Connection", "Content-Length", "X-Callback-Url",
    };

    public async Task<AttemptResult> InvokeAsync(AsyncCall call, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(new HttpMethod(call.Method), new Uri(gateway, call.Path.TrimStart('/')));
        request.Headers.Host = $"{call.Function}.{call.Namespace}.example.com";
        request.Content = new ByteArrayContent(call.Body);
        foreach (var (name, value) in call.Headers.Where(h => !NotForwarded.Contains(h.Key)))
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        request.Headers.TryAddWithoutValidation("X-Call-Id", call.Id);
        return await SendAsync(request, cancellationToken);
    }

    public async Task<AttemptResult> CallbackAsync(AsyncCall call, AttemptResult result, TimeSpan duration, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, call.CallbackUrl) { Content = new ReadOnlyMemoryContent(result.Body) };
        if (result.ContentType is { } type)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
        }

        request.Headers.TryAddWithoutValidation("X-Call-Id", call.Id);
        request.Headers.TryAddWithoutValidation("X-Function-Name", call.Function);
        request.Headers.TryAddWithoutValidation("X-Function-Status", (result.Status ?? 502).ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("X-Duration-Seconds", duration.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture));
        if (result.Error is { } error)
        {
            request.Headers.TryAddWithoutValidation("X-Function-Error", error);
        }

        return await SendAsync(request, cancellationToken);
    }

    private async Task<AttemptResult> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var response = await client.SendAsync(request, deadline.Token);
            var body = await response.Content.ReadAsByteArrayAsync(deadline.Token);
            return new AttemptResult((int)response.StatusCode, null, body, response.Content.Headers.ContentType?.ToString(), []);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return AttemptResult.Failed($"no answer within {timeout.TotalSeconds:0}s");
        }
        catch (HttpRequestException e)
        {
            return AttemptResult.Failed(e.Message);
        }
    }
}
