using System.Net;
using System.Text;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Forwarding;
using Trellis.Proxy.Tests.Http1;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Forwarding;

/// <summary>
/// <c>Expect: 100-continue</c> through the pooled HTTP/1.1 forwarder (Kestrel path, here HTTP/2
/// clients): the body waits for the upstream's 100, is not sent after a final answer that came
/// first, and goes anyway after <see cref="PooledHttp1Forwarder.ContinueTimeout"/> on the proxy's clock.
/// </summary>
public sealed class PooledHttp1ForwarderContinueTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    /// <summary>Long enough for a body sent without waiting to have arrived.</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task Forward_UpstreamAnswers100_BodySentOnlyAfterIt()
    {
        var early = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            if (await c.ReadHeadAsync() is null)
            {
                return;
            }

            early.TrySetResult(await c.PendingBytesAsync(Quiet));
            await c.SendAsync("HTTP/1.1 100 Continue\r\n\r\n");
            var body = await c.ReadAsync(5);
            await c.SendAsync($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length + 2}\r\n\r\n[{body}]");
            await c.ClosedAsync(Limit);
        });
        await using var proxy = await ProxyHarness.StartAsync(Http2Listener(backend.Endpoint), KestrelPath, time: new ManualTimeProvider());
        using var client = H2cClient(proxy.BaseAddress);

        using var response = await client.SendAsync(ExpectContinuePost("hello"));

        Assert.Equal(0, await early.Task.WaitAsync(Limit)); // nothing of the body before the 100
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("[hello]", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Forward_UpstreamAnswersFinalFirst_BodyNeverSentAndConnectionNotReused()
    {
        var early = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            while (await c.ReadHeadAsync() is { } head)
            {
                if (head.StartsWith("GET", StringComparison.Ordinal))
                {
                    await c.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    continue;
                }

                await c.SendAsync("HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nwho?");
                early.TrySetResult(await c.PendingBytesAsync(Quiet));
            }
        });
        await using var proxy = await ProxyHarness.StartAsync(Http2Listener(backend.Endpoint), KestrelPath, time: new ManualTimeProvider());
        using var client = H2cClient(proxy.BaseAddress);

        using var response = await client.SendAsync(ExpectContinuePost("hello"));
        var rejected = await response.Content.ReadAsStringAsync();
        var next = await client.GetStringAsync("/next");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("who?", rejected);
        Assert.Equal(0, await early.Task.WaitAsync(Limit)); // the body never went
        Assert.Equal("ok", next);
        Assert.Equal(2, backend.Connections); // the first connection still expected a body
    }

    [Fact]
    public async Task Forward_UpstreamNeverAnswers100_BodySentAfterTheTimeoutOnTheProxyClock()
    {
        var time = new ManualTimeProvider();
        var headAt = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var bodyAt = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = ScriptedUpstream.Start(async c =>
        {
            if (await c.ReadHeadAsync() is null)
            {
                return;
            }

            headAt.TrySetResult(time.GetTimestamp());
            var body = await c.ReadAsync(5);
            bodyAt.TrySetResult(time.GetTimestamp());
            await c.SendAsync($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length + 2}\r\n\r\n[{body}]");
            await c.ClosedAsync(Limit);
        });
        await using var proxy = await ProxyHarness.StartAsync(Http2Listener(backend.Endpoint), KestrelPath, time: time);
        using var client = H2cClient(proxy.BaseAddress);

        var sending = client.SendAsync(ExpectContinuePost("hello"));
        var started = await headAt.Task.WaitAsync(Limit);
        using (var limit = new CancellationTokenSource(Limit))
        {
            while (!bodyAt.Task.IsCompleted)
            {
                time.Advance(TimeSpan.FromMilliseconds(250));
                await Task.WhenAny(bodyAt.Task, Task.Delay(50, limit.Token));
            }
        }

        using var response = await sending;

        Assert.True(time.GetElapsedTime(started, await bodyAt.Task) >= PooledHttp1Forwarder.ContinueTimeout);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("[hello]", await response.Content.ReadAsStringAsync());
    }

    /// <summary>The pooled forwarder is the Kestrel path's: the HTTP/2 fast path, which answers 100 itself, stays off.</summary>
    private static readonly ProxyServerOptions KestrelPath = new() { FastHttp2 = false };

    private static ProxySnapshot Http2Listener(EndpointConfig endpoint) =>
        Snapshots.ToCluster("1", endpoint) with { Listeners = [Snapshots.Listener(protocols: HttpProtocols.Http2)] };

    /// <summary>The client itself would wait 30 s for a 100 (Kestrel sends it once the proxy reads the body), so only the proxy's wait shows.</summary>
    private static HttpClient H2cClient(Uri baseAddress) => new(new SocketsHttpHandler { UseProxy = false, Expect100ContinueTimeout = TimeSpan.FromSeconds(30) })
    {
        BaseAddress = baseAddress,
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    private static HttpRequestMessage ExpectContinuePost(string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/upload")
        {
            Content = new StringContent(body, Encoding.ASCII),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.ExpectContinue = true;
        return request;
    }
}
