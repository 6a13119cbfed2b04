using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Trellis.Api.Access;
using Trellis.ControlPlane.ApiServer;

namespace Trellis.ControlPlane.Auth;

/// <summary>
/// Token management (admin, <see cref="ApiAccess"/>): <c>trellis token create|list|revoke</c>, and
/// <c>trellis auth whoami</c> (any role) as <c>kubectl auth whoami</c>.
/// </summary>
internal static class TokenEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/auth/v1/whoami", (HttpContext c) => ApiAuthenticationResults.WhoAmI(ApiPrincipal.Of(c)));
        app.MapGet("/auth/v1/tokens", (TokenStore tokens) => ApiResults.Json(new JsonObject
        {
            ["kind"] = "TokenList",
            ["items"] = new JsonArray(tokens.List().OrderBy(t => t.Name, StringComparer.Ordinal).Select(t => (JsonNode)Render(t)).ToArray()),
        }));
        app.MapPost("/auth/v1/tokens", async (HttpContext c, TokenStore tokens) =>
        {
            JsonObject? body;
            try
            {
                body = await JsonSerializer.DeserializeAsync<JsonObject>(c.Request.Body, cancellationToken: c.RequestAborted);
            }
            catch (JsonException e)
            {
                return ApiResults.Failure(400, "BadRequest", "the body is not JSON: " + e.Message);
            }

            var name = (string?)body?["name"];
            var roleText = (string?)body?["role"];
            if (string.IsNullOrEmpty(name) || !ApiRoles.TryParse(roleText, out var role))
            {
                return ApiResults.Failure(400, "BadRequest", $"a token needs a name and a role of {string.Join(", ", ApiRoles.Names)} (got {roleText ?? "none"})");
            }

            var (token, record, error) = tokens.Create(name, role);
            if (token is null)
            {
                return ApiResults.Failure(error!.Contains("exists", StringComparison.Ordinal) ? 409 : 400, error.Contains("exists", StringComparison.Ordinal) ? "AlreadyExists" : "BadRequest", error);
            }

            var rendered = Render(record!);
            rendered["token"] = token; // shown once, never stored
            return ApiResults.Json(rendered, 201);
        });
        app.MapDelete("/auth/v1/tokens/{token}", (string token, TokenStore tokens) =>
            tokens.Revoke(token)
                ? ApiResults.Json(new JsonObject { ["kind"] = "Status", ["status"] = "Success", ["message"] = $"token {token} revoked" })
                : ApiResults.Failure(404, "NotFound", $"no revocable token with id or name \"{token}\" (static tokens are revoked by editing --token-auth-file)"));
    }

    private static JsonObject Render(ApiToken t) => new()
    {
        ["id"] = t.Id,
        ["name"] = t.Name,
        ["role"] = ApiRoles.Name(t.Role),
        ["source"] = t.Source,
        ["created"] = t.Created.ToString("O", CultureInfo.InvariantCulture),
    };
}

internal static class ApiAuthenticationResults
{
    public static IResult WhoAmI(ApiPrincipal? p) => ApiResults.Json(new JsonObject
    {
        ["kind"] = "SelfSubjectReview",
        ["name"] = p?.Name,
        ["role"] = p?.Role is { } role ? ApiRoles.Name(role) : null,
        ["node"] = p?.Node,
    });
}
