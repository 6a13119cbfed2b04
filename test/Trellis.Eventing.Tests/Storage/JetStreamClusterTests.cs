using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Trellis.Eventing.Storage;
using Trellis.Eventing.Storage.JetStream;

namespace Trellis.Eventing.Tests.Storage;

/// <summary>
/// The distributed store on a JetStream cluster of three servers (scripts/nats-server with --cluster-port and
/// --routes) with streams of three replicas: a server killed with SIGKILL during a steady stream of appends, the
/// stream's leader at that, loses no event whose append was acknowledged, and the other two keep taking events.
/// </summary>
public sealed class JetStreamClusterTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private NatsServer[] _servers = [];

    private string Urls => string.Join(",", _servers.Select(s => s.Url));

    public async Task InitializeAsync() => _servers = await NatsServer.StartClusterAsync(3);

    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task StreamLeaderKilled_DuringAppends_NoAcknowledgedEventIsLost_AndTheClusterKeepsTakingEvents()
    {
        output.WriteLine($"cluster up: {_clock.Elapsed}");
        await using var store = await ConnectAsync();
        output.WriteLine($"store connected: {_clock.Elapsed}");
        var log = await store.OpenAsync("broker.default.cluster");
        // A consumer at the start keeps every event (the store purges what every consumer has passed).
        var first = await log.GetPositionAsync("trigger");
        var acknowledged = new ConcurrentBag<string>();
        var acknowledgedAfterKill = 0;
        var killed = 0;
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var payload = $"w{w}-{i}";
                try
                {
                    await log.AppendAsync([Encoding.UTF8.GetBytes(payload)]);
                    acknowledged.Add(payload);
                    if (Volatile.Read(ref killed) == 1 && Interlocked.Increment(ref acknowledgedAfterKill) is 1 or 10)
                    {
                        output.WriteLine($"{acknowledgedAfterKill} acknowledged after the kill: {_clock.Elapsed}");
                    }
                }
                catch (IOException)
                {
                    // Not acknowledged (the leader went away mid-append): it may or may not be stored, at least once.
                }
            }
        })).ToArray();

        await WaitAsync(() => acknowledged.Count >= 100, "100 acknowledged appends");
        var leader = await StreamLeaderAsync(JetStreamEventStore.StreamName("broker.default.cluster"));
        output.WriteLine($"100 acknowledged, killing the stream leader: {_clock.Elapsed}");
        var victim = _servers.Single(s => s.Name == leader);
        victim.Kill();
        Volatile.Write(ref killed, 1);
        await WaitAsync(() => Volatile.Read(ref acknowledgedAfterKill) >= 20, "20 appends acknowledged by the two servers left");
        output.WriteLine($"20 acknowledged after the kill, stopping: {_clock.Elapsed}");
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        var stored = await StoredAsync(first);
        var lost = acknowledged.Where(p => !stored.Contains(p)).ToList();
        output.WriteLine($"read back: {_clock.Elapsed}");
        Assert.True(lost.Count == 0, $"{lost.Count} of {acknowledged.Count} acknowledged events lost after killing {leader}: {string.Join(", ", lost.Take(10))}");
    }

    /// <summary>A clustered JetStream takes a few seconds to elect its meta leader: until then creating the bucket fails.</summary>
    private async Task<JetStreamEventStore> ConnectAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            try
            {
                return await JetStreamEventStore.ConnectAsync(new JetStreamOptions(Urls, Replicas: 3), NullLogger.Instance);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
            }
        }
    }

    private async Task<string> StreamLeaderAsync(string stream)
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = Urls });
        var js = new NatsJSContext(connection);
        var info = await js.GetStreamAsync(stream);
        return info.Info.Cluster?.Leader ?? throw new InvalidOperationException($"stream {stream} has no leader");
    }

    /// <summary>
    /// Every event from <paramref name="from"/>, read through a new client of the servers left. Opening the log and
    /// reading (a consumer) are requests the cluster's meta leader answers: when the killed server was that leader
    /// too, they wait for the next one, so a read that fails or does not finish within 30 s starts again (a loaded
    /// machine elects slowly).
    /// </summary>
    private async Task<HashSet<string>> StoredAsync(long from)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(240);
        while (true)
        {
            await using var reader = await ConnectAsync();
            var stored = new HashSet<string>(StringComparer.Ordinal);
            using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                var log = await reader.OpenAsync("broker.default.cluster", attempt.Token);
                for (var next = from; next < log.NextSequence;)
                {
                    foreach (var e in await log.ReadAsync(next, 100, attempt.Token))
                    {
                        stored.Add(Encoding.UTF8.GetString(e.Payload.Span));
                        next = e.Sequence + 1;
                    }
                }

                return stored;
            }
            catch (Exception e) when (e is OperationCanceledException or IOException && DateTime.UtcNow < deadline)
            {
                // Opening the log (its stream's configuration) is a request to the meta leader, which may be electing.
                output.WriteLine($"read not finished ({e.Message}), again: {_clock.Elapsed}");
            }
        }
    }

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what}: not within 90 s");
            await Task.Delay(50);
        }
    }
}
