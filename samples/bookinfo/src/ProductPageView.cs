using System.Text;
using System.Text.Json.Nodes;
using static System.Net.WebUtility;

namespace Bookinfo;

/// <summary>The HTML of the product page; every value from another service is HTML-encoded.</summary>
internal static class ProductPageView
{
    private const string Style = """
        body { font-family: sans-serif; margin: 0; color: #222; }
        nav { background: #24292e; color: #fff; padding: .6em 1em; display: flex; justify-content: space-between; }
        nav a, nav button { color: #fff; }
        main { padding: 1em 2em; }
        .columns { display: flex; gap: 3em; flex-wrap: wrap; }
        table td { padding: .2em 1em .2em 0; }
        blockquote { border-left: 4px solid #ddd; margin: 1em 0; padding: .2em 1em; }
        .stars { font-size: 1.3em; }
        .reviews-version { color: #666; font-size: .9em; }
        """;

    public static string Index() => """
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><title>Simple Bookstore App</title></head>
        <body><h3>Hello! This is a simple bookstore application consisting of four services.</h3>
        <p><a href="/productpage">Normal user</a> · <a href="/login?username=jason">Test user (jason)</a></p>
        </body></html>
        """;

    public static string Render(JsonObject product, JsonNode? details, JsonNode? reviews, string? user)
    {
        var html = new StringBuilder(4096);
        html.Append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Simple Bookstore App</title><style>")
            .Append(Style).Append("</style></head>\n<body>\n<nav><span>BookInfo Sample</span>");
        if (user is not null)
        {
            html.Append("<span>welcome <b class=\"user\">").Append(HtmlEncode(user)).Append("</b> <a href=\"/logout\">sign out</a></span>");
        }
        else
        {
            html.Append("<form method=\"post\" action=\"/login\"><input name=\"username\" placeholder=\"user\"> <button type=\"submit\">sign in</button></form>");
        }

        html.Append("</nav>\n<main>\n<h1>").Append(HtmlEncode(Text(product["title"]))).Append("</h1>\n<p>")
            .Append(Text(product["descriptionHtml"])) // our own constant, holding markup on purpose
            .Append("</p>\n<div class=\"columns\">\n");
        AppendDetails(html, details);
        AppendReviews(html, reviews);
        html.Append("</div>\n</main>\n</body></html>\n");
        return html.ToString();
    }

    private static void AppendDetails(StringBuilder html, JsonNode? details)
    {
        html.Append("<section class=\"details\"><h4>Book Details</h4>\n");
        if (details is null)
        {
            html.Append("<p class=\"error\">Sorry, product details are currently unavailable for this book.</p></section>\n");
            return;
        }

        html.Append("<table>\n");
        foreach (var (label, key) in new[] { ("Type", "type"), ("Pages", "pages"), ("Publisher", "publisher"), ("Language", "language"), ("ISBN-10", "ISBN-10"), ("ISBN-13", "ISBN-13") })
        {
            html.Append("<tr><td><b>").Append(label).Append(":</b></td><td>").Append(HtmlEncode(Text(details[key]))).Append("</td></tr>\n");
        }

        html.Append("</table></section>\n");
    }

    private static void AppendReviews(StringBuilder html, JsonNode? reviews)
    {
        html.Append("<section class=\"reviews\"><h4>Book Reviews</h4>\n");
        if (reviews is null)
        {
            html.Append("<div class=\"reviews-version\" data-version=\"unavailable\"></div>\n")
                .Append("<p class=\"error\">Sorry, product reviews are currently unavailable for this book.</p></section>\n");
            return;
        }

        var version = HtmlEncode(Text(reviews["version"]));
        var pod = HtmlEncode(Text(reviews["podname"]));
        html.Append("<div class=\"reviews-version\" data-version=\"").Append(version).Append("\" data-podname=\"").Append(pod)
            .Append("\">Reviews served by: <span class=\"podname\">").Append(pod).Append("</span> (").Append(version).Append(")</div>\n");
        foreach (var review in reviews["reviews"] as JsonArray ?? [])
        {
            html.Append("<blockquote><p>").Append(HtmlEncode(Text(review?["text"]))).Append("</p><small>")
                .Append(HtmlEncode(Text(review?["reviewer"]))).Append("</small>");
            if (review?["rating"] is JsonObject rating)
            {
                if (rating["stars"] is JsonValue starsValue && starsValue.TryGetValue<int>(out var stars))
                {
                    stars = Math.Clamp(stars, 0, 5);
                    html.Append("<br><font class=\"stars\" color=\"").Append(HtmlEncode(Text(rating["color"]))).Append("\">")
                        .Append('★', stars).Append('☆', 5 - stars).Append("</font>");
                }
                else if (rating["error"] is { } error)
                {
                    html.Append("<p><i class=\"rating-error\">").Append(HtmlEncode(Text(error))).Append("</i></p>");
                }
            }

            html.Append("</blockquote>\n");
        }

        html.Append("</section>\n");
    }

    private static string Text(JsonNode? node) => node switch
    {
        null => "",
        JsonValue value when value.TryGetValue<string>(out var s) => s,
        _ => node.ToJsonString(),
    };
}
