using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Trellis.Api.Snapshots;

namespace Trellis.Benchmarks;

/// <summary>
/// The load generator of <c>bench/run push</c>: N simulated proxies speaking the push protocol (docs/protocol.md: one
/// HTTP/2 stream each, hello then an ACK per snapshot) to one control plane, then R config changes applied through
/// the API. For each change it records, per proxy, the time from the apply request to the new snapshot's arrival
/// (the proxy ACKs it at once), and prints p50/p99 over all proxies and over the rounds' slowest proxy.
/// <c>--push-load PUSH_URL API_URL PROXIES VIEWS ROUNDS</c>: gateway proxies in VIEWS distinct views (1 = replicas
/// sharing one view, compiled once). Expects bookinfo, its Gateway and its DestinationRules applied.
/// </summary>
internal static class PushLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        var push = new Uri(new Uri(args[1]), "/push/v1/stream");
        var api = args[2].TrimEnd('/');
        var proxies = int.Parse(args[3], CultureInfo.InvariantCulture);
        var views = int.Parse(args[4], CultureInfo.InvariantCulture);
        var rounds = int.Parse(args[5], CultureInfo.InvariantCulture);

        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, EnableMultipleHttp2Connections = true }) { Timeout = Timeout.InfiniteTimeSpan };
        using var apiClient = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        // The control plane's admin token (run-push.sh reads it from the data directory): the API and the push stream
        // accept no request without a credential, and admin may open any proxy's stream. Set before the first stream opens.
        if (Environment.GetEnvironmentVariable("TRELLIS_TOKEN") is { Length: > 0 } token)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            apiClient.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        var arrivals = Channel.CreateUnbounded<(int Proxy, string Version, long At)>();
        using var stop = new CancellationTokenSource();
        var streams = Enumerable.Range(0, proxies).Select(i => RunProxyAsync(http, push, Hello(i, views), i, arrivals.Writer, stop.Token)).ToList();

        // Everyone connected and holding the current snapshot before the first change.
        var current = new string[proxies];
        var connected = 0;
        var clock = Stopwatch.StartNew();
        while (connected < proxies)
        {
            var (proxy, version, _) = await ReadAsync(arrivals.Reader, TimeSpan.FromSeconds(60));
            connected += current[proxy] is null ? 1 : 0;
            current[proxy] = version;
        }

        Console.Error.WriteLine($"push: {proxies} proxies ({views} views) connected in {clock.ElapsedMilliseconds} ms");
        var perProxy = new List<double>();
        var slowest = new List<double>();

        for (var round = 0; round < rounds; round++)
        {
            var started = Stopwatch.GetTimestamp();
            using var response = await apiClient.PostAsync(api + "/apply?source=bench-push", new StringContent(Change(round), Encoding.UTF8, "application/yaml"));
            response.EnsureSuccessStatusCode();
            var pending = new HashSet<int>(Enumerable.Range(0, proxies));
            var worst = 0.0;
            while (pending.Count > 0)
            {
                var (proxy, version, at) = await ReadAsync(arrivals.Reader, TimeSpan.FromSeconds(60));
                if (version == current[proxy] || !pending.Remove(proxy))
                {
                    continue;
                }

                current[proxy] = version;
                var ms = Stopwatch.GetElapsedTime(started, at).TotalMilliseconds;
                perProxy.Add(ms);
                worst = Math.Max(worst, ms);
            }

            slowest.Add(worst);
        }

        await stop.CancelAsync();
        await Task.WhenAll(streams.Select(s => s.ContinueWith(_ => { }, TaskScheduler.Default)));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{proxies}\t{views}\t{rounds}\t{Percentile(perProxy, 50):F1}\t{Percentile(perProxy, 99):F1}\t{Percentile(slowest, 50):F1}\t{Percentile(slowest, 99):F1}"));
        return 0;
    }

    /// <summary>
    /// Ingress gateway replicas (bookinfo's Gateway selects <c>istio: ingressgateway</c>); a <c>bench-view</c> label
    /// splits them into VIEWS label sets, each compiled on its own as distinct proxies' views are.
    /// </summary>
    private static ProxyHello Hello(int i, int views) =>
        new($"gateway/bench-{i}", ProxyRole.Gateway, null, new Dictionary<string, string>
        {
            ["istio"] = "ingressgateway",
            ["bench-view"] = (i % Math.Max(1, views)).ToString(CultureInfo.InvariantCulture),
        });

    /// <summary>Each round moves a split on bookinfo's gateway, so every view's snapshot changes.</summary>
    private static string Change(int round) => $$"""
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: bench-push}
        spec:
          hosts: [bench-push.example.com]
          gateways: [bookinfo-gateway]
          http:
          - route:
            - destination: {host: reviews, subset: v1}
              weight: {{round % 100}}
            - destination: {host: reviews, subset: v2}
              weight: {{100 - (round % 100)}}
        """;

    private static async Task RunProxyAsync(HttpClient http, Uri push, ProxyHello hello, int index, ChannelWriter<(int, string, long)> arrivals, CancellationToken stop)
    {
        var acks = Channel.CreateUnbounded<string>();
        using var request = new HttpRequestMessage(HttpMethod.Post, push)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new AckContent(hello, acks.Reader),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop), Encoding.UTF8);
        while (await reader.ReadLineAsync(stop) is { } line)
        {
            var at = Stopwatch.GetTimestamp();
            var version = VersionOf(line);
            acks.Writer.TryWrite(JsonSerializer.Serialize(new ProxyAck(version, true, []), WireJsonContext.Default.ProxyAck));
            arrivals.TryWrite((index, version, at));
        }
    }

    /// <summary>The snapshot's version without binding the whole snapshot (the generator shares the machine with the control plane).</summary>
    private static string VersionOf(string line)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(line));
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("version"u8))
            {
                reader.Read();
                return reader.GetString()!;
            }
        }

        throw new JsonException("snapshot without a version");
    }

    private static async Task<(int, string, long)> ReadAsync(ChannelReader<(int, string, long)> reader, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        return await reader.ReadAsync(timeout.Token);
    }

    private static double Percentile(List<double> values, int p)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p / 100.0 * sorted.Count) - 1)];
    }

    /// <summary>The request body of the push stream: the hello, then ACK lines as snapshots arrive.</summary>
    private sealed class AckContent(ProxyHello hello, ChannelReader<string> acks) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(hello, WireJsonContext.Default.ProxyHello) + "\n"));
            await stream.FlushAsync();
            await foreach (var ack in acks.ReadAllAsync())
            {
                await stream.WriteAsync(Encoding.UTF8.GetBytes(ack + "\n"));
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
