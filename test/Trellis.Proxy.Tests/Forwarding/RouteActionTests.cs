using System.Net;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Forwarding;

public sealed class RouteActionTests
{
    [Fact]
    public async Task Forward_Redirect_Answers301WithLocationAndNoUpstreamCall()
    {
        var snapshot = Snapshots.With("1", [new RouteConfig("moved", [], [], Redirect: new RedirectConfig(Uri: "/v2/items", Scheme: "https"))]);
        await using var proxy = await ProxyHarness.StartAsync(snapshot);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/items?page=2");
        request.Headers.Host = "shop.example.com";
        using var response = await proxy.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.MovedPermanently, response.StatusCode);
        Assert.Equal("https://shop.example.com/v2/items?page=2", response.Headers.Location!.ToString());
    }

    [Fact]
    public async Task Forward_RewriteAndHeaderOperations_AppliedBothWays()
    {
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            c.Response.Headers["X-Internal"] = "secret";
            c.Response.Headers["X-Version"] = "old";
            var h = c.Request.Headers;
            await c.Response.WriteAsync($"{c.Request.Path}{c.Request.QueryString}|{h.Host}|{h["x-set"]}|{h["x-add"]}|{h["x-drop"]}");
        });
        var route = new RouteConfig(
            "api",
            [new RouteMatchConfig(Uri: new StringMatchConfig(StringMatchKind.Prefix, "/api/"))],
            [new WeightedClusterConfig("backend", 1)],
            Rewrite: new RewriteConfig(UriPrefix: "/internal/", Authority: "internal.svc"),
            RequestHeaders: new HeaderOperationsConfig(
                Set: new Dictionary<string, string> { ["x-set"] = "forced" },
                Add: new Dictionary<string, string> { ["x-add"] = "second" },
                Remove: ["x-drop"]),
            ResponseHeaders: new HeaderOperationsConfig(
                Set: new Dictionary<string, string> { ["x-version"] = "new" },
                Add: new Dictionary<string, string> { ["x-served-by"] = "trellis" },
                Remove: ["x-internal"]));
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.With("1", [route], new ClusterConfig("backend", [backend.Endpoint])));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/items?q=1");
        request.Headers.Add("x-set", "client");
        request.Headers.Add("x-add", "first");
        request.Headers.Add("x-drop", "gone");
        using var response = await proxy.Client.SendAsync(request);

        // The added value is a field line of its own after the client's; the backend (Kestrel) joins lines with ",".
        Assert.Equal("/internal/items?q=1|internal.svc|forced|first,second|", await response.Content.ReadAsStringAsync());
        Assert.False(response.Headers.Contains("x-internal"));
        Assert.Equal("new", response.Headers.GetValues("x-version").Single());
        Assert.Equal("trellis", response.Headers.GetValues("x-served-by").Single());
    }

    [Fact]
    public async Task Forward_AbsoluteFormViaHttpProxy_RoutesByTargetAuthority()
    {
        await using var reviews = await TestBackend.StartAsync(c => c.Response.WriteAsync($"reviews {c.Request.Path} host={c.Request.Host}"));
        await using var ratings = await TestBackend.StartNamedAsync("ratings");
        var snapshot = new ProxySnapshot(
            "1",
            [new ListenerConfig("outbound", "127.0.0.1", 0, ListenerKind.Outbound, "outbound", Protocols: HttpProtocols.Http1)],
            [new RouteTableConfig("outbound",
            [
                new VirtualHostConfig("reviews", ["reviews:9080", "reviews"], [Snapshots.Route("r", "reviews")]),
                new VirtualHostConfig("ratings", ["ratings:9080", "ratings"], [Snapshots.Route("r", "ratings")]),
            ])],
            [new ClusterConfig("reviews", [reviews.Endpoint]), new ClusterConfig("ratings", [ratings.Endpoint])]);
        await using var proxy = await ProxyHarness.StartAsync(snapshot);
        // The workload's view: HTTP_PROXY points at the outbound listener; it calls services by name.
        using var client = new HttpClient(new SocketsHttpHandler { Proxy = new WebProxy(proxy.BaseAddress), UseProxy = true });

        var fromReviews = await client.GetStringAsync("http://reviews:9080/reviews/0");
        var fromRatings = await client.GetStringAsync("http://ratings:9080/ratings/0");

        Assert.Equal("reviews /reviews/0 host=reviews:9080", fromReviews);
        Assert.Equal("ratings", fromRatings);
    }

    [Fact]
    public async Task Forward_WebSocketUpgrade_EchoesMessagesBothWays()
    {
        await using var backend = await TestBackend.StartAsync(
            async c =>
            {
                if (!c.WebSockets.IsWebSocketRequest)
                {
                    c.Response.StatusCode = 400;
                    return;
                }

                using var socket = await c.WebSockets.AcceptWebSocketAsync();
                var buffer = new byte[1024];
                while (true)
                {
                    var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
                    if (received.MessageType == WebSocketMessageType.Close)
                    {
                        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                        return;
                    }

                    await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, CancellationToken.None);
                }
            },
            webSockets: true);
        await using var proxy = await ProxyHarness.StartAsync(Snapshots.ToCluster("1", backend.Endpoint));
        using var client = new ClientWebSocket();

        await client.ConnectAsync(new Uri($"ws://127.0.0.1:{proxy.EndPoint.Port}/chat"), CancellationToken.None);
        var replies = new List<string>();
        foreach (var text in new[] { "hello", "through", "the proxy" })
        {
            await client.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);
            var buffer = new byte[1024];
            var received = await client.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            replies.Add(Encoding.UTF8.GetString(buffer, 0, received.Count));
        }

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(["hello", "through", "the proxy"], replies);
        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.Equal("bye", client.CloseStatusDescription);
    }
}
