using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Trellis.Proxy.Telemetry;

namespace Trellis.Proxy.Listeners;

/// <summary>
/// Request and response sizes on the Kestrel path, for telemetry: Kestrel parses and writes the heads itself and keeps
/// no byte counts, so a head counts as its HTTP/1.1 text (request or status line and fields), the request body as its
/// declared length (or the bytes the proxy held for a retry) and the response body as written
/// (<see cref="CountingResponseBody"/>). A request body without a declared length that the proxy streamed is not
/// counted here; the fast paths count every byte.
/// </summary>
internal static class KestrelSizes
{
    public static void Measure(HttpContext context, ExchangeTelemetry telemetry, long? heldBody, long? responseBody)
    {
        var request = context.Request;
        long head = request.Method.Length + 1 + (request.Path.Value?.Length ?? 1) + (request.QueryString.Value?.Length ?? 0);
        head += " HTTP/1.1\r\n".Length + Fields(request.Headers) + 2;
        telemetry.RequestBytes = head + (request.ContentLength ?? heldBody ?? 0);

        var response = context.Response;
        telemetry.ResponseBytes = response.HasStarted || response.StatusCode != 0
            ? "HTTP/1.1 200 OK\r\n".Length + Fields(response.Headers) + 2 + (responseBody ?? response.ContentLength ?? 0)
            : 0;
        var status = GrpcStatus(response.Headers) ?? (context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers is { } trailers ? GrpcStatus(trailers) : null);
        if (status is { Length: > 0 and <= 3 })
        {
            Span<byte> digits = stackalloc byte[3];
            telemetry.SetGrpcStatus(digits[..System.Text.Encoding.ASCII.GetBytes(status, digits)]);
        }
    }

    private static long Fields(IHeaderDictionary headers)
    {
        long bytes = 0;
        foreach (var (name, values) in headers)
        {
            foreach (var value in values)
            {
                bytes += name.Length + 2 + (value?.Length ?? 0) + 2;
            }
        }

        return bytes;
    }

    private static string? GrpcStatus(IHeaderDictionary headers) =>
        headers.TryGetValue("grpc-status", out StringValues values) && values.Count > 0 ? values[0] : null;
}
