using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Trellis.ControlPlane.Leadership;

namespace Trellis.ControlPlane.ApiServer;

/// <summary>
/// The autoscaler and the usage ledger live on the leader (Knative's autoscaler is one leader too):
/// a follower passes what agents and proxies post under <c>/serving/v1/</c>, and the reads of
/// <c>trellis usage</c>, to the leader's API as they are. Without a known leader it answers itself,
/// which is right on a single replica and harmless otherwise (a report is resent within a second).
/// </summary>
internal static class LeaderForwarding
{
    public const string ClientName = "leader";

    /// <summary>Set on a forwarded request, so a request never travels twice (two replicas that each believe the other leads).</summary>
    private const string ForwardedHeader = "x-trellis-forwarded";

    public static void Use(WebApplication app) => app.Use(async (context, next) =>
    {
        var leadership = context.RequestServices.GetService(typeof(ILeadership)) as ILeadership;
        if (!context.Request.Path.StartsWithSegments("/serving/v1") || leadership is null or { IsLeader: true }
            || leadership.Leader?.ApiUrl is not { } leader || context.Request.Headers.ContainsKey(ForwardedHeader))
        {
            await next(context);
            return;
        }

        var clients = (IHttpClientFactory)context.RequestServices.GetService(typeof(IHttpClientFactory))!;
        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), leader.TrimEnd('/') + context.Request.Path + context.Request.QueryString);
        request.Headers.Add(ForwardedHeader, leadership.Identity);

        // The leader checks the credential again (it was let in here, but the leader trusts no follower's word):
        // a node's signature covers method and path, which do not change on the way.
        foreach (var name in (string[])["Authorization", Trellis.Api.Access.NodeSignature.CertificateHeader, Trellis.Api.Access.NodeSignature.TimestampHeader, Trellis.Api.Access.NodeSignature.SignatureHeader])
        {
            if (context.Request.Headers.TryGetValue(name, out var value))
            {
                request.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)value);
            }
        }
        if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            request.Content = new StreamContent(context.Request.Body);
            if (context.Request.ContentType is { } type)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
            }
        }

        try
        {
            using var response = await clients.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
            context.Response.StatusCode = (int)response.StatusCode;
            if (response.Content.Headers.ContentType is { } contentType)
            {
                context.Response.ContentType = contentType.ToString();
            }

            await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
        }
        catch (HttpRequestException)
        {
            // The leader just died: its successor will be known within seconds; the reporter retries.
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        }
    });
}
