using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trellis.Api.Access;
using Trellis.ControlPlane.ApiServer;

namespace Trellis.ControlPlane.Auth;

/// <summary>
/// The API's door, before any endpoint (and before a follower forwards to the leader): who is asking (a bearer token,
/// or a request signed by a node key), and whether <see cref="ApiAccess"/> lets them. No credential, or one that is
/// unknown, revoked or does not verify: 401. A credential without the role: 403. Either way nothing ran.
/// </summary>
public static partial class ApiAuthentication
{
    public static void Use(WebApplication app) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        var access = ApiAccess.Required(request.Method == "HEAD" ? "GET" : request.Method, path);
        if (access.Kind == AccessKind.Public)
        {
            await next(context);
            return;
        }

        var (principal, problem) = Authenticate(context, path);
        if (principal is null)
        {
            Log(context).Refused(request.Method, path, 401, problem);
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"trellis\"";
            await ApiResults.Failure(401, "Unauthorized", problem).ExecuteAsync(context);
            return;
        }

        if (!ApiAccess.Allows(principal, access))
        {
            var message = $"{principal.Describe()} may not {request.Method} {path}: it needs {access}";
            Log(context).Refused(request.Method, path, 403, message);
            await ApiResults.Failure(403, "Forbidden", message).ExecuteAsync(context);
            return;
        }

        principal.Attach(context);
        await next(context);
    });

    private static (ApiPrincipal? Principal, string Problem) Authenticate(HttpContext context, string path)
    {
        var services = context.RequestServices;
        var headers = context.Request.Headers;
        var authorization = headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var token = services.GetRequiredService<TokenStore>().Authenticate(authorization["Bearer ".Length..].Trim());
            return token is null
                ? (null, "the token is not valid: unknown or revoked")
                : (ApiPrincipal.ForToken(token), "");
        }

        if (headers.TryGetValue(NodeSignature.SignatureHeader, out var signature))
        {
            var (node, problem) = services.GetRequiredService<NodeAuthenticator>().Authenticate(
                context.Request.Method, context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? path + context.Request.QueryString, headers[NodeSignature.CertificateHeader], headers[NodeSignature.TimestampHeader], signature);
            return node is null ? (null, "node identity refused: " + problem) : (ApiPrincipal.ForNode(node), "");
        }

        return (null, "a token is required: trellis reads TRELLIS_TOKEN or the current context of ~/.trellis/config (TRELLIS_CONFIG); "
            + "the first admin token is in the control plane's <data dir>/auth/admin-token");
    }

    private static ILogger Log(HttpContext context) => context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Trellis.ControlPlane.Auth");

    [LoggerMessage(EventId = 2901, Level = LogLevel.Information, Message = "API {Method} {Path} refused ({Status}): {Problem}")]
    private static partial void Refused(this ILogger log, string method, string path, int status, string problem);
}
