using System.Text.Json.Nodes;

namespace Bookinfo;

/// <summary>
/// The front end, as Istio's productpage: an HTML page composed from details and reviews, the same
/// JSON API, and a login that only sets a <c>user</c> cookie, sent on as the <c>end-user</c> header
/// so that routing rules can match on it.
/// </summary>
internal static class ProductPageService
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(3);

    public static void Map(WebApplication app)
    {
        var details = new Upstream("details", app.Logger);
        var reviews = new Upstream("reviews", app.Logger);
        var ratings = new Upstream("ratings", app.Logger);

        app.MapGet("/", () => Results.Content(ProductPageView.Index(), "text/html; charset=utf-8"));
        app.MapGet("/index.html", () => Results.Content(ProductPageView.Index(), "text/html; charset=utf-8"));
        app.MapGet("/health", () => "Product page is healthy");
        app.MapPost("/login", async (HttpRequest request) =>
        {
            var form = request.HasFormContentType ? await request.ReadFormAsync() : null;
            return Login(request, form?["username"].ToString());
        });
        app.MapGet("/login", (HttpRequest request) => Login(request, request.Query["username"].ToString()));
        app.MapMethods("/logout", ["GET", "POST"], (HttpRequest request, HttpResponse response) =>
        {
            response.Cookies.Delete("user");
            return Results.Redirect(BackTo(request));
        });

        app.MapGet("/productpage", async (HttpRequest request, CancellationToken ct) =>
        {
            var headers = ForwardHeaders(request);
            var detailsCall = details.GetJsonAsync("/details/0", request, headers, CallTimeout, ct);
            var reviewsCall = GetReviewsAsync(reviews, "0", request, headers, ct);
            var (detailsStatus, detailsBody) = await detailsCall;
            var (reviewsStatus, reviewsBody) = await reviewsCall;
            var html = ProductPageView.Render(Products()[0]!.AsObject(), detailsStatus == 200 ? detailsBody : null, reviewsStatus == 200 ? reviewsBody : null, User(request));
            return Results.Content(html, "text/html; charset=utf-8");
        });

        app.MapGet("/api/v1/products", () => Results.Json(Products()));
        app.MapGet("/api/v1/products/{id}", async (string id, HttpRequest request, CancellationToken ct) =>
            Answer(await details.GetJsonAsync($"/details/{Uri.EscapeDataString(id)}", request, ForwardHeaders(request), CallTimeout, ct), "details"));
        app.MapGet("/api/v1/products/{id}/reviews", async (string id, HttpRequest request, CancellationToken ct) =>
            Answer(await GetReviewsAsync(reviews, Uri.EscapeDataString(id), request, ForwardHeaders(request), ct), "reviews"));
        app.MapGet("/api/v1/products/{id}/ratings", async (string id, HttpRequest request, CancellationToken ct) =>
            Answer(await ratings.GetJsonAsync($"/ratings/{Uri.EscapeDataString(id)}", request, ForwardHeaders(request), CallTimeout, ct), "ratings"));
    }

    public static JsonArray Products() =>
    [
        new JsonObject
        {
            ["id"] = 0,
            ["title"] = "The Comedy of Errors",
            ["descriptionHtml"] = "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare's</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.",
        },
    ];

    // Istio's productpage tries reviews twice, 3 s each; its fault-injection task (a 7 s delay
    // for jason fails the page after about 6 s) depends on exactly that.
    private static async Task<(int Status, JsonNode? Body)> GetReviewsAsync(Upstream reviews, string id, HttpRequest request, IReadOnlyDictionary<string, string> headers, CancellationToken ct)
    {
        (int Status, JsonNode? Body) result = default;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            result = await reviews.GetJsonAsync($"/reviews/{id}", request, headers, CallTimeout, ct);
            if (result.Status == 200)
            {
                break;
            }
        }

        return result;
    }

    private static IResult Answer((int Status, JsonNode? Body) result, string what) =>
        result.Status == 200
            ? Results.Json(result.Body)
            : Results.Json(new JsonObject { ["error"] = $"Sorry, product {what} are currently unavailable for this book." }, statusCode: result.Status == 0 ? 500 : result.Status);

    private static string? User(HttpRequest request) =>
        request.Cookies.TryGetValue("user", out var user) && user.Length > 0 ? user : null;

    private static Dictionary<string, string> ForwardHeaders(HttpRequest request) =>
        User(request) is { } user ? new Dictionary<string, string> { ["end-user"] = user } : [];

    private static IResult Login(HttpRequest request, string? user)
    {
        if (!string.IsNullOrWhiteSpace(user))
        {
            request.HttpContext.Response.Cookies.Append("user", user.Trim());
        }

        return Results.Redirect(BackTo(request));
    }

    // Back to the page the form was on, as Istio does with the referrer; only a local path, so the
    // login cannot be used to redirect elsewhere.
    private static string BackTo(HttpRequest request) =>
        Uri.TryCreate(request.Headers.Referer.ToString(), UriKind.Absolute, out var referrer) && referrer.AbsolutePath.StartsWith('/')
            ? referrer.PathAndQuery
            : "/productpage";
}
