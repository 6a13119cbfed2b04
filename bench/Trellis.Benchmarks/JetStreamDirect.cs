using System.Diagnostics;
using System.Globalization;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Net;

namespace Trellis.Benchmarks;

/// <summary>
/// The JetStream ceiling of <c>bench/run eventing</c>: the same events the broker stores, published
/// straight to a JetStream stream with NATS.Net by <c>clients</c> concurrent publishers, each waiting
/// for its acknowledgement before the next (as each broker request does), for <c>seconds</c>, after
/// <c>warmup</c> seconds of the same publishing that are not counted (the broker's rounds run after a
/// warm-up too: both are measured with their code compiled, not while the JIT is still at work).
/// With <c>IN_FLIGHT</c> above 1, each publisher sends that many events (one message each) without waiting,
/// then waits for all their acknowledgements before the next ones: the like-for-like of a producer posting
/// batches of that size to the broker (each request waits for one 202 that covers its events).
/// Prints <c>{"rps": acknowledged per second, "errors": n, "acked_with_warmup": n, "client_us": this process's CPU
/// per acknowledged event in the counted window}</c>.
/// Usage: <c>--jetstream-direct nats://127.0.0.1:4222 SECONDS CLIENTS EVENT_FILE [WARMUP_SECONDS [IN_FLIGHT]]</c>.
/// </summary>
internal static class JetStreamDirect
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length is not (5 or 6 or 7))
        {
            await Console.Error.WriteLineAsync("usage: --jetstream-direct NATS_URL SECONDS CLIENTS EVENT_FILE [WARMUP_SECONDS [IN_FLIGHT]]");
            return 2;
        }

        var seconds = double.Parse(args[2], CultureInfo.InvariantCulture);
        var clients = int.Parse(args[3], CultureInfo.InvariantCulture);
        var payload = await File.ReadAllBytesAsync(args[4]);
        var warmup = TimeSpan.FromSeconds(args.Length >= 6 ? double.Parse(args[5], CultureInfo.InvariantCulture) : 0);
        var inFlight = args.Length == 7 ? int.Parse(args[6], CultureInfo.InvariantCulture) : 1;
        await using var nats = new NatsConnection(new NatsOpts { Url = args[1], Name = "bench-jetstream-direct" });
        var js = nats.CreateJetStreamContext();
        const string stream = "bench-direct";
        await js.CreateOrUpdateStreamAsync(new StreamConfig(stream, ["bench.direct"]) { Storage = StreamConfigStorage.File });
        long acked = 0, errors = 0;
        var clock = Stopwatch.StartNew();
        var deadline = warmup + TimeSpan.FromSeconds(seconds);
        var publishers = Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            var acks = new Task<PubAckResponse>[inFlight];
            while (clock.Elapsed < deadline)
            {
                if (inFlight == 1)
                {
                    // One at a time, as before batches were measured: the ValueTask awaited as it is.
                    try
                    {
                        (await js.PublishAsync("bench.direct", payload)).EnsureSuccess();
                        Interlocked.Increment(ref acked);
                    }
                    catch (NatsException)
                    {
                        Interlocked.Increment(ref errors);
                    }

                    continue;
                }

                for (var i = 0; i < inFlight; i++)
                {
                    acks[i] = js.PublishAsync("bench.direct", payload).AsTask();
                }

                foreach (var pending in acks)
                {
                    try
                    {
                        (await pending).EnsureSuccess();
                        Interlocked.Increment(ref acked);
                    }
                    catch (NatsException)
                    {
                        Interlocked.Increment(ref errors);
                    }
                }
            }
        })).ToArray();
        // The counts at the end of the warm-up are subtracted: only what is acknowledged after it counts.
        await Task.Delay(warmup);
        using var self = Process.GetCurrentProcess();
        var (ackedBefore, errorsBefore, start, cpuBefore) = (Interlocked.Read(ref acked), Interlocked.Read(ref errors), clock.Elapsed, self.TotalProcessorTime);
        await Task.WhenAll(publishers);
        var elapsed = (clock.Elapsed - start).TotalSeconds;
        self.Refresh();
        // The publishers' own CPU per acknowledged event (the client's share, as wrk's is on the broker's side).
        var cpuPerEvent = (self.TotalProcessorTime - cpuBefore).TotalMicroseconds / Math.Max(1, acked - ackedBefore);
        var total = acked;
        acked -= ackedBefore;
        errors -= errorsBefore;
        await js.DeleteStreamAsync(stream);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"rps\": {acked / elapsed:F0}, \"errors\": {errors}, \"acked_with_warmup\": {total}, \"client_us\": {cpuPerEvent:F1}}}"));
        return 0;
    }
}
