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
    private static readonly byte[] InstanceOverloaded = Encoding.ASCII.GetBytes("overload: revision instance queue full");
    private static readonly byte[] InstanceTimeout = Encoding.ASCII.GetBytes("request timeout: no response within the revision's timeoutSeconds");
    private static readonly byte[] InstanceResponseStartTimeout = Encoding.ASCII.GetBytes("request timeout: no response within the revision's responseStartTimeoutSeconds");
    private static readonly byte[] InstanceIdleTimeout = Encoding.ASCII.GetBytes("request timeout: no bytes within the revision's idleTimeoutSeconds");
    private static readonly byte[] Overflow = Encoding.ASCII.GetBytes("upstream connect error or disconnect/reset before headers. reset reason: overflow");
    private static readonly byte[] RateLimited = Encoding.ASCII.GetBytes("local_rate_limited");
    private static readonly byte[] FaultAbort = Encoding.ASCII.GetBytes("fault filter abort");

    public static (int Status, byte[] Body) Describe(ForwardError error) => error switch
    {
        ForwardError.NoRoute => (StatusCodes.Status404NotFound, NoRoute),
        ForwardError.NoHealthyUpstream => (StatusCodes.Status503ServiceUnavailable, NoHealthyUpstream),
        ForwardError.UpstreamConnect => (StatusCodes.Status503ServiceUnavailable, ConnectFailure),
        ForwardError.UpstreamTimeout => (StatusCodes.Status504GatewayTimeout, Timeout),
        ForwardError.RequestBodyClient => (StatusCodes.Status400BadRequest, BadRequestBody),
        ForwardError.ResponseBodyUpstream => (StatusCodes.Status502BadGateway, UpstreamBody),
        ForwardError.InstanceOverloaded => (StatusCodes.Status503ServiceUnavailable, InstanceOverloaded),
        ForwardError.InstanceTimeout => (StatusCodes.Status504GatewayTimeout, InstanceTimeout),
        ForwardError.InstanceResponseStartTimeout => (StatusCodes.Status504GatewayTimeout, InstanceResponseStartTimeout),
        ForwardError.InstanceIdleTimeout => (StatusCodes.Status504GatewayTimeout, InstanceIdleTimeout),
        ForwardError.UpstreamOverflow => (StatusCodes.Status503ServiceUnavailable, Overflow),
        ForwardError.RateLimited => (StatusCodes.Status429TooManyRequests, RateLimited),
        ForwardError.FaultAbort => (StatusCodes.Status503ServiceUnavailable, FaultAbort),
        _ => (StatusCodes.Status502BadGateway, ResetBeforeHeaders),
    };

    /// <summary>Envoy's response flag for each failure (<see cref="Pipeline.ResponseFlags"/>).</summary>
    public static Pipeline.ResponseFlags FlagsOf(ForwardError error) => error switch
    {
        ForwardError.None => Pipeline.ResponseFlags.None,
        ForwardError.NoRoute => Pipeline.ResponseFlags.NoRouteFound,
        ForwardError.NoHealthyUpstream or ForwardError.ActivationTimeout => Pipeline.ResponseFlags.NoHealthyUpstream,
        ForwardError.UpstreamConnect => Pipeline.ResponseFlags.UpstreamConnectionFailure,
        ForwardError.UpstreamTimeout or ForwardError.InstanceTimeout or ForwardError.InstanceResponseStartTimeout
            or ForwardError.InstanceIdleTimeout => Pipeline.ResponseFlags.UpstreamRequestTimeout,
        ForwardError.RequestBodyClient => Pipeline.ResponseFlags.DownstreamProtocolError,
        ForwardError.ResponseBodyClient or ForwardError.RequestCanceled => Pipeline.ResponseFlags.DownstreamConnectionTermination,
        ForwardError.InstanceOverloaded or ForwardError.ActivationQueueFull or ForwardError.UpstreamOverflow => Pipeline.ResponseFlags.UpstreamOverflow,
        ForwardError.RateLimited => Pipeline.ResponseFlags.RateLimited,
        ForwardError.FaultAbort => Pipeline.ResponseFlags.FaultInjected,
        _ => Pipeline.ResponseFlags.UpstreamConnectionTermination,
    };

    /// <summary>
    /// Answers with the error if nothing was sent yet; otherwise aborts the connection (HTTP/1.1) or
    /// stream (HTTP/2) so that the client sees a truncated response instead of one that looks complete.
    /// </summary>
    public static Task WriteAsync(HttpContext context, ForwardError error)
    {
        var (status, body) = Describe(error);
        return WriteAsync(context, error, status, body);
    }

    /// <summary>As above with a body built for the occasion (activation errors name their cluster).</summary>
    public static Task WriteAsync(HttpContext context, ForwardError error, int status, byte[] body)
    {
        var response = context.Response;
        if (error == ForwardError.RequestCanceled || response.HasStarted)
        {
            context.Abort();
            return Task.CompletedTask;
        }

        response.Clear();
        response.StatusCode = status;
        response.ContentType = "text/plain";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body).AsTask();
    }
}
