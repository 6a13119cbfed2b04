using System.Text.Json.Nodes;

namespace Bookinfo;

/// <summary>
/// Two fixed reviews, as Istio's reviews: v1 without ratings, v2 with black stars, v3 with red stars
/// (SERVICE_VERSION). ENABLE_RATINGS and STAR_COLOR override what the version implies, as in Istio,
/// whose three images differ only in those two variables.
/// </summary>
internal static class ReviewsService
{
    private const string Unavailable = "Ratings service is currently unavailable";

    public static void Map(WebApplication app)
    {
        var version = Environment.GetEnvironmentVariable("SERVICE_VERSION") is { Length: > 0 } v ? v : "v1";
        var ratingsEnabled = bool.TryParse(Environment.GetEnvironmentVariable("ENABLE_RATINGS"), out var enabled) ? enabled : version != "v1";
        var starColor = Environment.GetEnvironmentVariable("STAR_COLOR") is { Length: > 0 } c ? c : version == "v3" ? "red" : "black";
        // Istio's reviews waits 10 s for ratings with black stars and 2.5 s with red ones; the
        // "timeouts" and "fault injection" tasks rely on the difference.
        var ratingsTimeout = starColor == "black" ? TimeSpan.FromSeconds(10) : TimeSpan.FromSeconds(2.5);
        var podName = Environment.GetEnvironmentVariable("HOSTNAME") is { Length: > 0 } h ? h : Environment.MachineName;
        var clusterName = Environment.GetEnvironmentVariable("CLUSTER_NAME") ?? "null";
        var ratings = new Upstream("ratings", app.Logger);

        app.MapGet("/health", () => Results.Json(new JsonObject { ["status"] = "Reviews is healthy" }));
        app.MapGet("/reviews/{id:int}", async (int id, HttpRequest request, CancellationToken ct) =>
        {
            int? stars1 = null, stars2 = null;
            if (ratingsEnabled)
            {
                var (status, body) = await ratings.GetJsonAsync($"/ratings/{id}", request, null, ratingsTimeout, ct);
                if (status == 200 && body?["ratings"] is JsonObject given)
                {
                    stars1 = Stars(given, "Reviewer1");
                    stars2 = Stars(given, "Reviewer2");
                }
            }

            return Results.Json(new JsonObject
            {
                ["id"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["podname"] = podName,
                ["clustername"] = clusterName,
                // Not in Istio's answer: lets the product page (and tests, and people) see which version answered.
                ["version"] = version,
                ["reviews"] = new JsonArray(
                    Review("Reviewer1", "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!", ratingsEnabled, stars1, starColor),
                    Review("Reviewer2", "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.", ratingsEnabled, stars2, starColor)),
            });
        });
    }

    private static int? Stars(JsonObject ratings, string reviewer) =>
        ratings[reviewer] is JsonValue value && value.TryGetValue<int>(out var stars) ? stars : null;

    private static JsonObject Review(string reviewer, string text, bool withRating, int? stars, string color)
    {
        var review = new JsonObject { ["reviewer"] = reviewer, ["text"] = text };
        if (withRating)
        {
            review["rating"] = stars is { } n
                ? new JsonObject { ["stars"] = n, ["color"] = color }
                : new JsonObject { ["error"] = Unavailable };
        }

        return review;
    }
}
