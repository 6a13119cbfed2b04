using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Trellis.Api.Identity;
using Trellis.Api.Snapshots;
using Trellis.ControlPlane.Ca;

namespace Trellis.ControlPlane.ApiServer;

/// <summary>The CA's API: join (<c>/ca/v1/join</c>), workload certificates (<c>/ca/v1/certificates</c>), <c>trellis ca status</c> and <c>rotate</c>.</summary>
internal static class CaEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/ca/v1/join", async (HttpContext c, CaService ca) =>
        {
            var request = await ReadAsync<JoinRequest>(c);
            return request is null ? BadBody() : Answer(ca.Join(Bearer(c), request));
        });
        app.MapPost("/ca/v1/certificates", async (HttpContext c, CaService ca) =>
        {
            var request = await ReadAsync<WorkloadCertificateRequest>(c);
            return request is null ? BadBody() : Answer(ca.Request(request));
        });
        app.MapGet("/ca/v1/bundle", (CaService ca) => Results.Json(ca.Bundle(), WireJson.Options));
        app.MapGet("/ca/v1/status", (CaService ca) => Results.Json(ca.Status(), WireJson.Options));
        app.MapPost("/ca/v1/rotate", (CaService ca) =>
        {
            var (status, code, error) = ca.Rotate();
            return status is not null ? Results.Json(status, WireJson.Options) : ApiResults.Failure(code, "Conflict", error);
        });
    }

    private static string? Bearer(HttpContext c)
    {
        var header = c.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : null;
    }

    private static async Task<T?> ReadAsync<T>(HttpContext c)
        where T : class
    {
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(c.Request.Body, WireJson.Options, c.RequestAborted);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static IResult BadBody() => ApiResults.Failure(400, "BadRequest", "the body is not a valid certificate request");

    private static IResult Answer((CertificateResponse? Certificate, int Status, string? Error) answer) =>
        answer.Certificate is { } certificate
            ? Results.Json(certificate, WireJson.Options)
            : ApiResults.Failure(answer.Status, answer.Status switch { 401 => "Unauthorized", 403 => "Forbidden", _ => "BadRequest" }, answer.Error);
}
