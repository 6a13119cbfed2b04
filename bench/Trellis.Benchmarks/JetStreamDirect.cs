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
/// for its acknowledgement before the next (as each broker request does), for <c>seconds</c>.
/// Prints <c>{"rps": acknowledged per second, "errors": n}</c>.
/// Usage: <c>--jetstream-direct nats://127.0.0.1:4222 SECONDS CLIENTS EVENT_FILE</c>.
/// </summary>
internal static class JetStreamDirect
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length != 5)
        {
            await Console.Error.WriteLineAsync("usage: --jetstream-direct NATS_URL SECONDS CLIENTS EVENT_FILE");
            return 2;
        }

        var seconds = double.Parse(args[2], CultureInfo.InvariantCulture);
        var clients = int.Parse(args[3], CultureInfo.InvariantCulture);
        var payload = await File.ReadAllBytesAsync(args[4]);
        await using var nats = new NatsConnection(new NatsOpts { Url = args[1], Name = "bench-jetstream-direct" });
        var js = nats.CreateJetStreamContext();
        const string stream = "bench-direct";
        await js.CreateOrUpdateStreamAsync(new StreamConfig(stream, ["bench.direct"]) { Storage = StreamConfigStorage.File });
        long acked = 0, errors = 0;
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        var publishers = Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < deadline)
            {
                try
                {
                    var ack = await js.PublishAsync("bench.direct", payload);
                    ack.EnsureSuccess();
                    Interlocked.Increment(ref acked);
                }
                catch (NatsException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        })).ToArray();
        await Task.WhenAll(publishers);
        var elapsed = clock.Elapsed.TotalSeconds;
        await js.DeleteStreamAsync(stream);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"rps\": {acked / elapsed:F0}, \"errors\": {errors}}}"));
        return 0;
    }
}
