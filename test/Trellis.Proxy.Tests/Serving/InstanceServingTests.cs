using System.Net;
using Microsoft.AspNetCore.Http;
using Trellis.Api.Snapshots;
using Trellis.Proxy.Tests.Infrastructure;

namespace Trellis.Proxy.Tests.Serving;

/// <summary>Knative queue-proxy duties on a revision instance's inbound listener, through real sockets.</summary>
public sealed class InstanceServingTests
{
    private static ProxySnapshot Inbound(InstanceServingConfig serving, EndpointConfig endpoint)
    {
        var snapshot = Snapshots.ToCluster("1", endpoint);
        return snapshot with { Listeners = [Snapshots.Listener() with { Kind = ListenerKind.Inbound, Workload = "hello-00001-a", Serving = serving }] };
    }

    [Fact]
    public async Task Forward_ContainerConcurrencyOneQueueOne_SecondWaitsThirdGets503()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = 0;
        var running = 0;
        var peak = 0;
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            Interlocked.Increment(ref arrived);
            var now = Interlocked.Increment(ref running);
            peak = Math.Max(peak, now);
            await gate.Task;
            Interlocked.Decrement(ref running);
            await c.Response.WriteAsync("done");
        });
        await using var proxy = await ProxyHarness.StartAsync(Inbound(new InstanceServingConfig(ContainerConcurrency: 1, QueueDepth: 1), backend.Endpoint));
        var breaker = proxy.Server.GetBreaker("in")!;

        var first = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => Volatile.Read(ref arrived) == 1, "the first request reaches the instance");
        var second = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => breaker.Queued == 1, "the second request is queued");
        using var third = await proxy.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, third.StatusCode);
        Assert.Equal("overload: revision instance queue full", await third.Content.ReadAsStringAsync());
        Assert.False(second.IsCompleted);
        Assert.Equal(1, Volatile.Read(ref arrived));

        gate.SetResult();
        using var firstResponse = await first.WaitAsync(TimeSpan.FromSeconds(10));
        using var secondResponse = await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("done", await firstResponse.Content.ReadAsStringAsync());
        Assert.Equal("done", await secondResponse.Content.ReadAsStringAsync());
        Assert.Equal(1, peak);
        Assert.Equal(0, breaker.InFlight);
    }

    [Fact]
    public async Task Forward_ClientCancelsWhileQueued_LeavesQueue()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = 0;
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            Interlocked.Increment(ref arrived);
            await gate.Task;
            await c.Response.WriteAsync("done");
        });
        await using var proxy = await ProxyHarness.StartAsync(Inbound(new InstanceServingConfig(ContainerConcurrency: 1, QueueDepth: 1), backend.Endpoint));
        var breaker = proxy.Server.GetBreaker("in")!;
        var first = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => Volatile.Read(ref arrived) == 1, "the first request reaches the instance");
        using var giveUp = new CancellationTokenSource();
        var queued = proxy.Client.GetAsync("/", giveUp.Token);
        await Eventually.TrueAsync(() => breaker.Queued == 1, "the second request is queued");

        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued);
        await Eventually.TrueAsync(() => breaker.Queued == 0, "the cancelled request leaves the queue");
        var third = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => breaker.Queued == 1, "a new request takes the freed place");
        gate.SetResult();

        using var thirdResponse = await third.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, thirdResponse.StatusCode);
        (await first).Dispose();
        Assert.Equal(2, Volatile.Read(ref arrived));
    }

    [Theory]
    [InlineData(30, null, 30, "timeoutSeconds")]
    [InlineData(30, 5, 5, "responseStartTimeoutSeconds")]
    public async Task Forward_NoResponseBeforeTimeout_Returns504NamingIt(int timeoutSeconds, int? responseStartSeconds, int firesAfter, string named)
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstreamCanceled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            c.RequestAborted.Register(() => upstreamCanceled.TrySetResult());
            arrived.SetResult();
            await Task.Delay(Timeout.Infinite, c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        });
        var time = new ManualTimeProvider();
        var serving = new InstanceServingConfig(
            Timeout: TimeSpan.FromSeconds(timeoutSeconds),
            ResponseStartTimeout: responseStartSeconds is { } s ? TimeSpan.FromSeconds(s) : null);
        await using var proxy = await ProxyHarness.StartAsync(Inbound(serving, backend.Endpoint), time: time);

        var pending = proxy.Client.GetAsync("/");
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(firesAfter) - TimeSpan.FromMilliseconds(1));
        // A millisecond before: the deadline's timer is still armed (read at once; the 504 would travel over sockets).
        Assert.Contains(TimeSpan.FromMilliseconds(1), time.PendingDelays());
        time.Advance(TimeSpan.FromMilliseconds(1));
        using var response = await pending.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Contains(named, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await upstreamCanceled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Forward_TimeoutWhileQueued_Returns504AndLeavesQueue()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            arrived.TrySetResult();
            await c.Response.WriteAsync("started ");
            await c.Response.Body.FlushAsync();
            await gate.Task;
        });
        var time = new ManualTimeProvider();
        var serving = new InstanceServingConfig(ContainerConcurrency: 1, QueueDepth: 5, Timeout: TimeSpan.FromSeconds(10));
        await using var proxy = await ProxyHarness.StartAsync(Inbound(serving, backend.Endpoint), time: time);
        var breaker = proxy.Server.GetBreaker("in")!;
        using var first = await proxy.Client.GetAsync("/", HttpCompletionOption.ResponseHeadersRead);
        var queued = proxy.Client.GetAsync("/");
        await Eventually.TrueAsync(() => breaker.Queued == 1, "the second request is queued");

        time.Advance(TimeSpan.FromSeconds(10));
        using var timedOut = await queued.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.GatewayTimeout, timedOut.StatusCode);
        Assert.Contains("timeoutSeconds", await timedOut.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, breaker.Queued);
        // The first response had started, so timeoutSeconds no longer applies to it (Knative semantics).
        gate.SetResult();
        Assert.Equal("started ", await first.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Forward_StreamGoesIdle_AbortsAfterIdleTimeoutNotBefore()
    {
        var next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = await TestBackend.StartAsync(async c =>
        {
            await c.Response.WriteAsync("one;");
            await c.Response.Body.FlushAsync();
            await next.Task;
            await c.Response.WriteAsync("two;");
            await c.Response.Body.FlushAsync();
            await Task.Delay(Timeout.Infinite, c.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        });
        var time = new ManualTimeProvider();
        await using var proxy = await ProxyHarness.StartAsync(Inbound(new InstanceServingConfig(IdleTimeout: TimeSpan.FromSeconds(5)), backend.Endpoint), time: time);

        using var response = await proxy.Client.GetAsync("/", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        Assert.Equal("one;", await ReadAsync(body, 4));
        time.Advance(TimeSpan.FromSeconds(3));
        next.SetResult();
        Assert.Equal("two;", await ReadAsync(body, 4));
        time.Advance(TimeSpan.FromSeconds(3));
        var read = ReadAsync(body, 1);
        // 6 s in, 3 s after the last bytes: the idle check at 5 s saw them and re-armed itself for the
        // 2 s left (read at once; an abort would travel over sockets and could come after any check of the read).
        Assert.Contains(TimeSpan.FromSeconds(2), time.PendingDelays());

        time.Advance(TimeSpan.FromSeconds(2));

        var error = await Record.ExceptionAsync(() => read.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(error is HttpRequestException or IOException, $"expected an aborted stream, got {error?.GetType().Name ?? "more data"}");
    }

    [Fact]
    public async Task Forward_NoTimeoutsConfigured_ForwardsNormally()
    {
        await using var backend = await TestBackend.StartNamedAsync("instance");
        await using var proxy = await ProxyHarness.StartAsync(Inbound(new InstanceServingConfig(), backend.Endpoint));

        using var response = await proxy.Client.GetAsync("/");

        Assert.Equal("instance", await response.Content.ReadAsStringAsync());
        Assert.Null(proxy.Server.GetBreaker("in"));
    }

    [Theory]
    [InlineData(-1, 0, 1, "listeners[0].serving.containerConcurrency")]
    [InlineData(1, -1, 1, "listeners[0].serving.queueDepth")]
    [InlineData(1, 1, 0, "listeners[0].serving.timeout")]
    public async Task ApplyAsync_InvalidServing_RejectedWithPath(int concurrency, int queueDepth, int timeoutSeconds, string path)
    {
        await using var server = new ProxyServer(new ProxyServerOptions(), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        var serving = new InstanceServingConfig(concurrency, queueDepth, TimeSpan.FromSeconds(timeoutSeconds));

        var result = await server.ApplyAsync(Inbound(serving, new EndpointConfig("127.0.0.1", 1)));

        Assert.False(result.Accepted);
        Assert.Contains(result.Errors, e => e.StartsWith(path, StringComparison.Ordinal));
    }

    private static async Task<string> ReadAsync(Stream body, int count)
    {
        var buffer = new byte[count];
        await body.ReadExactlyAsync(buffer);
        return System.Text.Encoding.ASCII.GetString(buffer);
    }
}
