using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Http2;
using Trellis.Proxy.Tests.Http1;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Http2;

/// <summary>The HTTP/2 fast path as HttpClient (h2c, prior knowledge) uses it: many streams, large bodies, errors, hand-over to Kestrel, drain.</summary>
public sealed class Http2HttpClientTests
{
    [Fact]
    public async Task ConcurrentRequests_200OnOneConnection_AllGetTheirOwnBodies()
    {
        await using var backend = await TestBackend.StartAsync(c => c.Response.WriteAsync(string.Concat(Enumerable.Repeat(c.Request.Path.Value, 100))));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint, new ProxyServerOptions { MaxHttp2StreamsPerConnection = 256 });
        using var client = H2Setup.H2cClient(proxy.BaseAddress);

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            using var response = await client.GetAsync($"/s/{i}");
            return (response.StatusCode, response.Version, Body: await response.Content.ReadAsStringAsync());
        }));

        for (var i = 0; i < 200; i++)
        {
            Assert.Equal((HttpStatusCode.OK, HttpVersion.Version20), (responses[i].StatusCode, responses[i].Version));
            Assert.Equal(string.Concat(Enumerable.Repeat($"/s/{i}", 100)), responses[i].Body);
        }
    }

    [Fact]
    public async Task LargeDownloadAndUpload_20MB_ArriveWhole()
    {
        var download = RandomNumberGenerator.GetBytes(20 * 1024 * 1024);
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            if (HttpMethods.IsGet(c.Request.Method))
            {
                await c.Response.Body.WriteAsync(download);
                return;
            }

            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[64 * 1024];
            long length = 0;
            int read;
            while ((read = await c.Request.Body.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                length += read;
            }

            await c.Response.WriteAsync($"{length} {Convert.ToHexString(hash.GetHashAndReset())}");
        });
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = H2Setup.H2cClient(proxy.BaseAddress);
        var upload = RandomNumberGenerator.GetBytes(20 * 1024 * 1024);

        var downloaded = await client.GetByteArrayAsync("/down");
        using var uploaded = await client.PostAsync("/up", new ByteArrayContent(upload));

        Assert.Equal(SHA256.HashData(download), SHA256.HashData(downloaded));
        Assert.Equal($"{upload.Length} {Convert.ToHexString(SHA256.HashData(upload))}", await uploaded.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RedirectRoute_ConnectionIsServedByKestrel_AndTheRedirectIsAnswered()
    {
        await using var backend = await TestBackend.StartNamedAsync("backend");
        var snapshot = H2Setup.Http2(Snapshots.With(
            "1",
            [
                new RouteConfig("moved", [new RouteMatchConfig(Uri: new StringMatchConfig(StringMatchKind.Prefix, "/old"))], [], Redirect: new RedirectConfig(Uri: "/new")),
                Snapshots.Route("default", "backend"),
            ],
            new ClusterConfig("backend", [backend.Endpoint])));
        await using var proxy = await ProxyHarness.StartAsync(snapshot);
        using var client = H2Setup.H2cClient(proxy.BaseAddress);

        using var moved = await client.GetAsync("/old/x");
        using var served = await client.GetAsync("/other");

        Assert.Equal((HttpStatusCode.MovedPermanently, HttpVersion.Version20), (moved.StatusCode, moved.Version));
        Assert.Equal("/new", moved.Headers.Location?.AbsolutePath);
        Assert.Equal("backend", await served.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ListenerStopped_RequestInFlight_GoAwayThenTheRequestCompletes()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            arrived.TrySetResult();
            await release.Task;
            await c.Response.WriteAsync("finished");
        });
        var snapshot = H2Setup.Http2(Snapshots.ToCluster("1", backend.Endpoint));
        await using var proxy = await ProxyHarness.StartAsync(snapshot);
        using var client = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await client.ReadPrefaceAsync();
        await client.SendHeadersAsync(1, H2Client.Request("/slow"));
        await arrived.Task.WaitAsync(H2Client.Wait);

        var applying = proxy.Server.ApplyAsync(snapshot with { Version = "2", Listeners = [] });
        var goAway = await client.ReadGoAwayAsync();
        release.SetResult();
        var response = await client.ReadResponseAsync(1);

        Assert.Equal((Http2Error.NoError, 1), (goAway.ErrorCode, goAway.GoAwayLastStream));
        Assert.Equal("finished", response.BodyText);
        Assert.Equal(H2End.Fin, await client.ClosedAsync());
        Assert.True((await applying.WaitAsync(H2Client.Wait)).Accepted);
    }

    [Fact]
    public async Task RouteTimeout_UpstreamNeverAnswers_Returns504()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = RawUpstream.Start((_, _) =>
        {
            arrived.TrySetResult();
            return new RawAnswer(string.Empty); // says nothing, keeps the connection open
        });
        var time = new ManualTimeProvider();
        var snapshot = H2Setup.Http2(Snapshots.With(
            "1", [new RouteConfig("slow", [], [new WeightedClusterConfig("backend", 1)], Timeout: TimeSpan.FromSeconds(3))], new ClusterConfig("backend", [backend.Endpoint])));
        await using var proxy = await ProxyHarness.StartAsync(snapshot, time: time);
        using var client = H2Setup.H2cClient(proxy.BaseAddress);

        var request = client.GetAsync("/");
        await arrived.Task.WaitAsync(H2Client.Wait);
        time.Advance(TimeSpan.FromSeconds(3));
        using var response = await request.WaitAsync(H2Client.Wait);

        Assert.Equal((HttpStatusCode.GatewayTimeout, HttpVersion.Version20), (response.StatusCode, response.Version));
        Assert.Equal("upstream request timeout", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task UpstreamRefusesConnections_Returns503()
    {
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        await using var proxy = await H2Setup.StartAsync(new EndpointConfig("127.0.0.1", port));
        using var client = H2Setup.H2cClient(proxy.BaseAddress);

        using var response = await client.GetAsync("/");

        Assert.Equal((HttpStatusCode.ServiceUnavailable, HttpVersion.Version20), (response.StatusCode, response.Version));
        Assert.Equal("upstream connect error or disconnect/reset before headers. reset reason: connection failure", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task EncodedSlashTarget_RefusedHere_HttpClientRetriesOnAConnectionKestrelServes()
    {
        await using var backend = await TestBackend.StartAsync(c => c.Response.WriteAsync("saw " + c.Features.Get<IHttpRequestFeature>()!.RawTarget));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var client = H2Setup.H2cClient(proxy.BaseAddress);

        using var response = await client.GetAsync("/a%2Fb");

        Assert.Equal((HttpStatusCode.OK, HttpVersion.Version20), (response.StatusCode, response.Version));
        Assert.StartsWith("saw /a", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DotSegmentTarget_RefusedStreamAndGoAway_TheNextConnectionGoesToKestrel()
    {
        await using var backend = await TestBackend.StartAsync(c => c.Response.WriteAsync("saw " + c.Request.Path));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var raw = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await raw.ReadPrefaceAsync();

        await raw.SendHeadersAsync(1, H2Client.Request("/a/../b"));
        var refused = await raw.ReadResponseAsync(1);
        var goAway = await raw.ReadGoAwayAsync();
        using var client = H2Setup.H2cClient(proxy.BaseAddress);
        using var retried = await client.GetAsync("/b");

        Assert.Equal(Http2Error.RefusedStream, refused.Reset);
        Assert.Equal(Http2Error.NoError, goAway.ErrorCode);
        Assert.Equal("saw /b", await retried.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// After a refusal's GOAWAY the proxy sends a FIN and goes on reading until the client closes:
    /// a socket closed with the client's frames still arriving answers them with a reset, which can
    /// overtake the GOAWAY the client should act on (HttpClient then failed instead of retrying).
    /// </summary>
    [Fact]
    public async Task RefusedStream_ClientStillSending_ConnectionEndsWithFinNotReset()
    {
        await using var backend = await TestBackend.StartAsync(c => c.Response.WriteAsync("unused"));
        await using var proxy = await H2Setup.StartAsync(backend.Endpoint);
        using var raw = await H2Client.ConnectAsync(proxy.EndPoint.Port);
        await raw.ReadPrefaceAsync();

        await raw.SendHeadersAsync(1, H2Client.Request("/a/../b", "POST"), endStream: false);
        await raw.ReadGoAwayAsync();
        for (var i = 0; i < 20; i++)
        {
            // Frames for the refused stream keep coming, as from a client that has not read the GOAWAY yet.
            await raw.SendDataAsync(1, new byte[1000], endStream: false);
            await Task.Delay(10); // a reset, had the proxy closed the socket, would arrive within this
        }

        Assert.Equal(H2End.Fin, await raw.ClosedAsync());
    }
}
