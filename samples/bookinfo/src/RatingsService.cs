using System.Text.Json.Nodes;

namespace Bookinfo;

/// <summary>Star ratings, as Istio's ratings v1 (fixed ratings for every product).</summary>
internal static class RatingsService
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/health", () => Results.Json(new JsonObject { ["status"] = "Ratings is healthy" }));
        app.MapGet("/ratings/{id}", (string id) => int.TryParse(id, out var number)
            ? Results.Json(new JsonObject
            {
                ["id"] = number,
                ["ratings"] = new JsonObject { ["Reviewer1"] = 5, ["Reviewer2"] = 4 },
            })
            : Results.Json(new JsonObject { ["error"] = "please provide numeric product ID" }, statusCode: 400));
    }
}
