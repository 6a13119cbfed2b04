using System.Text.Json.Nodes;

namespace Bookinfo;

/// <summary>Book details, as Istio's details v1 (a fixed book for every id).</summary>
internal static class DetailsService
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/health", () => Results.Json(new JsonObject { ["status"] = "Details is healthy" }));
        app.MapGet("/details/{id}", (string id) => int.TryParse(id, out var number)
            ? Results.Json(Book(number))
            : Results.Json(new JsonObject { ["error"] = "please provide numeric product id" }, statusCode: 400));
    }

    public static JsonObject Book(int id) => new()
    {
        ["id"] = id,
        ["author"] = "William Shakespeare",
        ["year"] = 1595,
        ["type"] = "paperback",
        ["pages"] = 200,
        ["publisher"] = "PublisherA",
        ["language"] = "English",
        ["ISBN-10"] = "1234567890",
        ["ISBN-13"] = "123-1234567890",
    };
}
