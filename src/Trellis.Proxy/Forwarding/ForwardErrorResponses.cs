using System.Text;
using Microsoft.AspNetCore.Http;

namespace Trellis.Proxy.Forwarding;

/// <summary>
/// What the client sees for each <see cref="ForwardError"/> when the response has not started.
/// Bodies follow Envoy's wording so that operators recognise them; encoded once, written without allocating.
/// </summary>
internal static class ForwardErrorResponses
{
    private static readonly byte[] NoRoute = Encoding.ASCII.GetBytes("no route");
    private static readonly byte[] NoHealthyUpstream = Encoding.ASCII.GetBytes("no healthy upstream");
    private static readonly byte[] ConnectFailure = Encoding.ASCII.GetBytes("upstream connect error or disconnect/reset before headers. reset reason: connection failure");
    private static readonly byte[] ResetBeforeHeaders = Encoding.ASCII.GetBytes("upstream connect error or disconnect/reset before headers. reset reason: connection termination");
    private static readonly byte[] Timeout = Encoding.ASCII.GetBytes("upstream request timeout");
    private static readonly byte[] BadRequestBody = Encoding.ASCII.GetBytes("request body error");
    private static readonly byte[] UpstreamBody = Encoding.ASCII.GetBytes("upstream response body error");

    public static (int Status, byte[] Body) Describe(ForwardError error) => error switch
    {
        ForwardError.NoRoute => (StatusCodes.Status404NotFound, NoRoute),
        ForwardError.NoHealthyUpstream => (StatusCodes.Status503ServiceUnavailable, NoHealthyUpstream),
        ForwardError.UpstreamConnect => (StatusCodes.Status503ServiceUnavailable, ConnectFailure),
        ForwardError.UpstreamTimeout => (StatusCodes.Status504GatewayTimeout, Timeout),
        ForwardError.RequestBodyClient => (StatusCodes.Status400BadRequest, BadRequestBody),
        ForwardError.ResponseBodyUpstream => (StatusCodes.Status502BadGateway, UpstreamBody),
        _ => (StatusCodes.Status502BadGateway, ResetBeforeHeaders),
    };

    /// <summary>
    /// Answers with the error if nothing was sent yet; otherwise aborts the connection (HTTP/1.1) or
    /// stream (HTTP/2) so that the client sees a truncated response instead of one that looks complete.
    /// </summary>
    public static Task WriteAsync(HttpContext context, ForwardError error)
    {
        var response = context.Response;
        if (error == ForwardError.RequestCanceled || response.HasStarted)
        {
            context.Abort();
            return Task.CompletedTask;
        }

        var (status, body) = Describe(error);
        response.Clear();
        response.StatusCode = status;
        response.ContentType = "text/plain";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body).AsTask();
    }
}
