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
/// <c>--push-load PUSH_URL API_URL PROXIES VIEWS ROUNDS [CONTROL_PLANE_PID]</c>: gateway proxies in VIEWS distinct views
/// (1 = replicas sharing one view, compiled once). Expects bookinfo, its Gateway and its DestinationRules applied.
/// Besides the percentiles it prints where a change's time goes (median over the rounds of: the apply's answer, the
/// first proxy's snapshot; and p50/p99 of the moment the control plane holds every ACK) and the CPU time per change of the generator and, given its pid, of
/// the control plane: the two share the machine's cores, so the generator must be seen to cost little.
/// </summary>
internal static class PushLoad
{
    private const int WarmUpRounds = 20;

    public static async Task<int> RunAsync(string[] args)
    {
        var push = new Uri(new Uri(args[1]), "/push/v1/stream");
        var api = args[2].TrimEnd('/');
        var proxies = int.Parse(args[3], CultureInfo.InvariantCulture);
        var views = int.Parse(args[4], CultureInfo.InvariantCulture);
        var rounds = int.Parse(args[5], CultureInfo.InvariantCulture);
        using var controlPlane = args.Length > 6 ? Process.GetProcessById(int.Parse(args[6], CultureInfo.InvariantCulture)) : null;

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
        var answered = new List<double>();
        var firsts = new List<double>();
        var acked = new List<double>();
        var (ownCpu, controlPlaneCpu) = (TimeSpan.Zero, (TimeSpan?)null);

        // Unrecorded rounds first: a control plane runs for days, so the figures are those of its steady state (JIT
        // tiering done: each push runs code called a thousand times per round), not of its first seconds.
        for (var round = -WarmUpRounds; round < rounds; round++)
        {
            if (round == 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(1)); // the runtime's tier-1 compiles of the warm-up's hot code land
                controlPlane?.Refresh();
                (ownCpu, controlPlaneCpu) = (Process.GetCurrentProcess().TotalProcessorTime, controlPlane?.TotalProcessorTime);
            }

            var started = Stopwatch.GetTimestamp();
            using var response = await apiClient.PostAsync(api + "/apply?source=bench-push", new StringContent(Change(round + WarmUpRounds), Encoding.UTF8, "application/yaml"));
            response.EnsureSuccessStatusCode();
            var answer = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var pending = new HashSet<int>(Enumerable.Range(0, proxies));
            var (first, worst) = (double.MaxValue, 0.0);
            while (pending.Count > 0)
            {
                var (proxy, version, at) = await ReadAsync(arrivals.Reader, TimeSpan.FromSeconds(60));
                if (version == current[proxy] || !pending.Remove(proxy))
                {
                    continue;
                }

                current[proxy] = version;
                var ms = Stopwatch.GetElapsedTime(started, at).TotalMilliseconds;
                (first, worst) = (Math.Min(first, ms), Math.Max(worst, ms));
                if (round >= 0)
                {
                    perProxy.Add(ms);
                }
            }

            // The round ends when the control plane holds every ACK, so the next change never shares the CPU with this one's.
            var allAcked = await AllAckedAsync(apiClient, api, current, started);
            if (round >= 0)
            {
                answered.Add(answer);
                firsts.Add(first);
                slowest.Add(worst);
                acked.Add(allAcked);
            }
        }

        var generatorMs = (Process.GetCurrentProcess().TotalProcessorTime - ownCpu).TotalMilliseconds / rounds;
        controlPlane?.Refresh();
        var controlPlaneMs = controlPlane is null ? double.NaN : (controlPlane.TotalProcessorTime - controlPlaneCpu!.Value).TotalMilliseconds / rounds;

        await stop.CancelAsync();
        await Task.WhenAll(streams.Select(s => s.ContinueWith(_ => { }, TaskScheduler.Default)));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{proxies}\t{views}\t{rounds}\t{Percentile(perProxy, 50):F1}\t{Percentile(perProxy, 99):F1}\t{Percentile(slowest, 50):F1}\t{Percentile(slowest, 99):F1}\t{Percentile(answered, 50):F1}\t{Percentile(firsts, 50):F1}\t{Percentile(acked, 50):F1}\t{Percentile(acked, 99):F1}\t{generatorMs:F1}\t{controlPlaneMs:F1}"));
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
        var content = new AckContent(hello);
        using var request = new HttpRequestMessage(HttpMethod.Post, push)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync(stop);
        var acks = await content.Body.WaitAsync(stop);

        // Lines are found in the bytes as they come and only the version is read out of each (a real proxy binds the
        // whole snapshot; the generator must cost far less than what it measures).
        var buffer = new byte[64 * 1024];
        var filled = 0;
        while (true)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var read = await body.ReadAsync(buffer.AsMemory(filled), stop);
            if (read == 0)
            {
                return;
            }

            var scanFrom = filled;
            filled += read;
            var lineStart = 0;
            int newline;
            while ((newline = Array.IndexOf(buffer, (byte)'\n', scanFrom, filled - scanFrom)) >= 0)
            {
                var at = Stopwatch.GetTimestamp();
                var version = VersionOf(buffer.AsSpan(lineStart, newline - lineStart));
                arrivals.TryWrite((index, version, at));
                await acks.WriteAsync(AckLine(version), stop);
                await acks.FlushAsync(stop);
                lineStart = scanFrom = newline + 1;
            }

            buffer.AsSpan(lineStart, filled - lineStart).CopyTo(buffer);
            filled -= lineStart;
        }
    }

    /// <summary>
    /// Milliseconds from <paramref name="started"/> until the control plane's <c>/debug/proxies</c> shows every proxy's
    /// ACK of the version it was last sent (polled every 5 ms, so up to 5 ms late, and the polls cost both sides a little).
    /// </summary>
    private static async Task<double> AllAckedAsync(HttpClient api, string baseUrl, string[] versions, long started)
    {
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 30;
        while (true)
        {
            using var proxies = JsonDocument.Parse(await api.GetByteArrayAsync(baseUrl + "/debug/proxies"));
            var done = 0;
            foreach (var proxy in proxies.RootElement.EnumerateArray())
            {
                var name = proxy.GetProperty("name").GetString() ?? "";
                if (name.StartsWith("gateway/bench-", StringComparison.Ordinal)
                    && int.TryParse(name.AsSpan("gateway/bench-".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var i)
                    && i < versions.Length && proxy.GetProperty("acked").GetString() == versions[i])
                {
                    done++;
                }
            }

            if (done == versions.Length)
            {
                return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"{versions.Length - done} proxies never ACKed");
            }

            await Task.Delay(5);
        }
    }

    /// <summary>The snapshot's version without binding the whole snapshot.</summary>
    private static string VersionOf(ReadOnlySpan<byte> line)
    {
        var reader = new Utf8JsonReader(line);
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

    private static readonly byte[] NewLine = "\n"u8.ToArray();

    private static byte[] AckLine(string version)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(new ProxyAck(version, true, []), WireJsonContext.Default.ProxyAck);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        return line;
    }

    /// <summary>
    /// The request body of the push stream: the hello, then the stream is handed to the reading side, which writes each
    /// ACK as soon as it has read the snapshot (no hop through another task); the body stays open until the run ends.
    /// </summary>
    private sealed class AckContent(ProxyHello hello) : HttpContent
    {
        private readonly TaskCompletionSource<Stream> _body = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<Stream> Body => _body.Task;

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(hello, WireJsonContext.Default.ProxyHello), cancellationToken);
            await stream.WriteAsync(NewLine, cancellationToken);
            await stream.FlushAsync(cancellationToken);
            _body.TrySetResult(stream);
            await Task.Delay(Timeout.Infinite, cancellationToken); // ended by the request's cancellation when the run stops
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
