using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;

namespace Trellis.Runtime.Tests.Bookinfo;

/// <summary>
/// The bookinfo sample run by the supervisor, wired by environment instead of a mesh: this checks
/// the apps' API and the supervisor with real HTTP readiness probes on .NET processes.
/// </summary>
public class BookinfoTests
{
    private static readonly string SampleDirectory = typeof(BookinfoTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "BookinfoDirectory").Value!;

    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task ProductPage_ReviewsV2_ShowsBlackStarsFromRatingsAndVersion()
    {
        await using var h = new Harness();
        h.Supervisor.Reconcile([App("ratings"), App("details")]);
        var backends = await h.WaitAsync(i => i.Count == 2 && i.All(x => x.Ready), what: "ratings and details ready");
        var ratings = backends.Single(i => i.Workload == "ratings-v1");
        var details = backends.Single(i => i.Workload == "details-v1");
        var reviews = App("reviews", "v2", ("RATINGS_HOSTNAME", "127.0.0.1"), ("RATINGS_SERVICE_PORT", $"{ratings.Port}"));
        h.Supervisor.Reconcile([App("ratings"), App("details"), reviews]);
        var reviewsV2 = (await h.WaitAsync(i => i.Count == 3 && i.All(x => x.Ready), what: "reviews ready")).Single(i => i.Workload == "reviews-v2");
        var productpage = App("productpage", "v1",
            ("DETAILS_HOSTNAME", "127.0.0.1"), ("DETAILS_SERVICE_PORT", $"{details.Port}"),
            ("REVIEWS_HOSTNAME", "127.0.0.1"), ("REVIEWS_SERVICE_PORT", $"{reviewsV2.Port}"));
        h.Supervisor.Reconcile([App("ratings"), App("details"), reviews, productpage]);
        var front = (await h.WaitAsync(i => i.Count == 4 && i.All(x => x.Ready), what: "productpage ready")).Single(i => i.Workload == "productpage-v1");

        var json = JsonNode.Parse(await Http.GetStringAsync($"http://127.0.0.1:{reviewsV2.Port}/reviews/0"))!;
        Assert.Equal("0", (string?)json["id"]);
        Assert.Equal(reviewsV2.Id, (string?)json["podname"]);
        Assert.Equal("null", (string?)json["clustername"]);
        Assert.Equal(5, (int?)json["reviews"]![0]!["rating"]!["stars"]);
        Assert.Equal(4, (int?)json["reviews"]![1]!["rating"]!["stars"]);
        Assert.Equal("black", (string?)json["reviews"]![0]!["rating"]!["color"]);

        var html = await Http.GetStringAsync($"http://127.0.0.1:{front.Port}/productpage");
        Assert.Contains("<div class=\"reviews-version\" data-version=\"v2\"", html, StringComparison.Ordinal);
        Assert.Contains(reviewsV2.Id, html, StringComparison.Ordinal);
        Assert.Contains("<font class=\"stars\" color=\"black\">★★★★★</font>", html, StringComparison.Ordinal);
        Assert.Contains("<font class=\"stars\" color=\"black\">★★★★☆</font>", html, StringComparison.Ordinal);
        Assert.Contains("<td>123-1234567890</td>", html, StringComparison.Ordinal);
        Assert.Contains("Reviewer2", html, StringComparison.Ordinal);

        var product = JsonNode.Parse(await Http.GetStringAsync($"http://127.0.0.1:{front.Port}/api/v1/products/0"))!;
        Assert.Equal("William Shakespeare", (string?)product["author"]);
        Assert.Equal(1595, (int?)product["year"]);
        Assert.Equal("paperback", (string?)product["type"]);
        var products = JsonNode.Parse(await Http.GetStringAsync($"http://127.0.0.1:{front.Port}/api/v1/products"))!.AsArray();
        Assert.Equal("The Comedy of Errors", (string?)products[0]!["title"]);
    }

    [Fact]
    public async Task Reviews_V3RatingsUnreachable_ReportsRatingErrorAndProductPagePropagatesHeaders()
    {
        await using var h = new Harness();
        using var fakeReviews = new TcpListener(IPAddress.Loopback, 0);
        fakeReviews.Start();
        var fakePort = ((IPEndPoint)fakeReviews.LocalEndpoint).Port;
        var closedPort = ClosedPort();
        h.Supervisor.Reconcile(
        [
            App("reviews", "v3", ("RATINGS_HOSTNAME", "127.0.0.1"), ("RATINGS_SERVICE_PORT", $"{closedPort}")),
            App("productpage", "v1", ("REVIEWS_HOSTNAME", "127.0.0.1"), ("REVIEWS_SERVICE_PORT", $"{fakePort}"),
                ("DETAILS_HOSTNAME", "127.0.0.1"), ("DETAILS_SERVICE_PORT", $"{closedPort}")),
        ]);
        var ready = await h.WaitAsync(i => i.Count == 2 && i.All(x => x.Ready), what: "reviews and productpage ready");
        var reviewsV3 = ready.Single(i => i.Workload == "reviews-v3");
        var front = ready.Single(i => i.Workload == "productpage-v1");

        var json = JsonNode.Parse(await Http.GetStringAsync($"http://127.0.0.1:{reviewsV3.Port}/reviews/1"))!;
        Assert.Equal("Ratings service is currently unavailable", (string?)json["reviews"]![0]!["rating"]!["error"]);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{front.Port}/productpage");
        request.Headers.Add("Cookie", "user=jason");
        request.Headers.Add("x-request-id", "req-42");
        request.Headers.Add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        request.Headers.Add("x-not-propagated", "nope");
        var page = Http.SendAsync(request);
        var seen = await AnswerOnceAsync(fakeReviews, """{"id":"0","podname":"fake-pod","clustername":"null","version":"v9","reviews":[{"reviewer":"R<1>","text":"fine","rating":{"stars":2,"color":"red"}}]}""");
        using var response = await page;
        var html = await response.Content.ReadAsStringAsync();

        Assert.StartsWith("GET /reviews/0 ", seen, StringComparison.Ordinal);
        Assert.Contains("end-user: jason", seen, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("x-request-id: req-42", seen, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", seen, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("x-not-propagated", seen, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("data-version=\"v9\"", html, StringComparison.Ordinal);
        Assert.Contains("R&lt;1&gt;", html, StringComparison.Ordinal);
        Assert.Contains("<font class=\"stars\" color=\"red\">★★☆☆☆</font>", html, StringComparison.Ordinal);
        Assert.Contains("product details are currently unavailable", html, StringComparison.Ordinal);
        Assert.Contains("<b class=\"user\">jason</b>", html, StringComparison.Ordinal);
    }

    private static WorkloadSpec App(string role, string version = "v1", params (string Key, string Value)[] env)
    {
        // HTTP_PROXY from the test's environment must not send the apps' calls elsewhere.
        var variables = new Dictionary<string, string> { ["SERVICE_VERSION"] = version, ["HTTP_PROXY"] = "", ["http_proxy"] = "" };
        foreach (var (key, value) in env)
        {
            variables[key] = value;
        }

        var probe = new ProbeSpec(ProbeKind.Http, "/health", TimeSpan.Zero, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1), 3, 1);
        return new WorkloadSpec($"{role}-{version}", "default", new Dictionary<string, string> { ["app"] = role, ["version"] = version }, 1,
            "dotnet", ["bin/bookinfo.dll", role], variables, SampleDirectory, probe, TimeSpan.FromSeconds(5), []);
    }

    private static int ClosedPort()
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    // A one-shot HTTP/1.1 server: returns the request head it received and answers with body.
    private static async Task<string> AnswerOnceAsync(TcpListener listener, string body)
    {
        using var client = await listener.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var stream = client.GetStream();
        var head = new StringBuilder();
        var buffer = new byte[4096];
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            if (read == 0)
            {
                break;
            }

            head.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        var payload = Encoding.UTF8.GetBytes(body);
        var answer = $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {payload.Length}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(answer));
        await stream.WriteAsync(payload);
        return head.ToString();
    }
}
