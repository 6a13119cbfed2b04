using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Trellis.Proxy.Tests.Infrastructure;
using Trellis.ProxyHost.Tests.Infrastructure;

namespace Trellis.ProxyHost.Tests;

/// <summary>
/// The Native AOT trellis-proxy against its JIT build, case by case: the same request to each must give the
/// same response (status, headers but Date, body, and in the body what the upstream received), and the
/// expected status. The in-process proxy tests (test/Trellis.Proxy.Tests) say what is right; these say the
/// AOT build (trimmed, source-generated JSON, no JIT) does the same.
/// </summary>
public sealed partial class AotParityTests(ParityFixture fixture) : IClassFixture<ParityFixture>
{
    private static readonly Dictionary<string, (int Status, Func<ParityFixture, ProxyBuild, Task<string>> Exchange)> Cases = new()
    {
        ["h1 GET, header operations both ways"] = (200, (f, b) => RawAsync(f.PortsOf(b).Http1,
            "GET /a/b?x=1 HTTP/1.1\nHost: example.com\nX-Drop: x\nX-Add: client\nX-Set: client\nX-Request-Id: client-1\n\n")),
        ["h1 GET, request id generated"] = (200, (f, b) => RawAsync(f.PortsOf(b).Http1, "GET / HTTP/1.1\nHost: a\n\n")),
        ["h1 POST, Content-Length body"] = (200, (f, b) => RawAsync(f.PortsOf(b).Http1,
            "POST /submit HTTP/1.1\nHost: a\nContent-Type: application/json\nX-Request-Id: client-2\nContent-Length: 13\n\n{\"a\":\"hello\"}")),
        ["h1 POST, chunked body with a trailer"] = (200, (f, b) => RawAsync(f.PortsOf(b).Http1,
            "POST /c HTTP/1.1\nHost: a\nX-Request-Id: client-3\nTransfer-Encoding: chunked\n\n5\nhello\n6\n world\n0\nX-Trailer: t\n\n")),
        ["h1 hop-by-hop fields dropped"] = (200, (f, b) => RawAsync(f.PortsOf(b).Http1,
            "GET / HTTP/1.1\nHost: a\nConnection: X-Hop\nX-Hop: 1\nKeep-Alive: timeout=5\nProxy-Authorization: Basic eA==\nX-Request-Id: client-4\n\n")),
        ["h1 absolute-form target"] = (200, (f, b) => RawAsync(f.PortsOf(b).Http1,
            "GET http://target.example/p?q HTTP/1.1\nHost: other.example\nX-Request-Id: client-5\n\n")),
        ["h1 redirect"] = (308, (f, b) => RawAsync(f.PortsOf(b).Http1, "GET /old?k=v HTTP/1.1\nHost: a\n\n")),
        ["h1 rewrite of prefix and authority"] = (200, (f, b) => RawAsync(f.PortsOf(b).Http1,
            "GET /v1/items?y=1 HTTP/1.1\nHost: a\nX-Request-Id: client-6\n\n")),
        ["h1 regex, query and header match"] = (200, (f, b) => RawAsync(f.PortsOf(b).Http1,
            "GET /reeegex?q=1 HTTP/1.1\nHost: a\nX-Variant: any\nX-Request-Id: client-7\n\n")),
        ["h1 regex matches, header missing: default route"] = (200, (f, b) => RawAsync(f.PortsOf(b).Http1,
            "GET /reeegex?q=1 HTTP/1.1\nHost: a\nX-Request-Id: client-8\n\n")),
        ["h1 HTTP/2 upstream"] = (200, (f, b) => RawAsync(f.PortsOf(b).Http1, "GET /h2up/a HTTP/1.1\nHost: a\nX-Request-Id: client-9\n\n")),
        ["h1 upstream refuses connections"] = (503, (f, b) => RawAsync(f.PortsOf(b).Http1, "GET /dead HTTP/1.1\nHost: a\n\n")),
        ["h1 cluster without endpoints"] = (503, (f, b) => RawAsync(f.PortsOf(b).Http1, "GET /empty HTTP/1.1\nHost: a\n\n")),
        ["h1 route timeout"] = (504, (f, b) => RawAsync(f.PortsOf(b).Http1, "GET /slow HTTP/1.1\nHost: a\n\n")),
        ["h1 malformed Host"] = (400, (f, b) => RawAsync(f.PortsOf(b).Http1, "GET / HTTP/1.1\nHost: a b\n\n")),
        ["h1 1 MiB upload"] = (200, (f, b) => UploadAsync(f.PortsOf(b).Http1)),
        ["h1 WebSocket upgrade"] = (101, (f, b) => WebSocketAsync(f.PortsOf(b).Http1)),
        ["h2c GET, header operations"] = (200, (f, b) => ClientAsync(f, $"http://127.0.0.1:{f.PortsOf(b).Http2}/a?b=c", 2, "X-Drop: x", "X-Request-Id: client-10")),
        ["h2c POST body"] = (200, (f, b) => PostAsync(f, $"http://127.0.0.1:{f.PortsOf(b).Http2}/post", "h2 body", "X-Request-Id: client-11")),
        ["h2c redirect"] = (308, (f, b) => ClientAsync(f, $"http://127.0.0.1:{f.PortsOf(b).Http2}/old", 2)),
        ["h2c cluster without endpoints"] = (503, (f, b) => ClientAsync(f, $"http://127.0.0.1:{f.PortsOf(b).Http2}/empty", 2)),
        ["h2c route timeout"] = (504, (f, b) => ClientAsync(f, $"http://127.0.0.1:{f.PortsOf(b).Http2}/slow", 2)),
        ["TLS, ALPN HTTP/2"] = (200, (f, b) => ClientAsync(f, $"https://127.0.0.1:{f.PortsOf(b).Tls}/tls", 2, "X-Request-Id: client-12")),
        ["TLS, ALPN HTTP/1.1"] = (200, (f, b) => ClientAsync(f, $"https://127.0.0.1:{f.PortsOf(b).Tls}/tls", 1, "X-Request-Id: client-13")),
        ["serving listener"] = (200, (f, b) => RawAsync(f.PortsOf(b).Serving, "GET /s HTTP/1.1\nHost: a\nX-Request-Id: client-14\n\n")),
        ["serving listener, route timeout"] = (504, (f, b) => RawAsync(f.PortsOf(b).Serving, "GET /slow HTTP/1.1\nHost: a\n\n")),
    };

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Exchange_SameRequest_AotAnswersAsJit(string name)
    {
        var (status, exchange) = Cases[name];

        var jit = Normalize(await exchange(fixture, ProxyBuild.Jit), fixture.PortsOf(ProxyBuild.Jit));
        var aot = Normalize(await exchange(fixture, ProxyBuild.Aot), fixture.PortsOf(ProxyBuild.Aot));

        Assert.True(jit.StartsWith(status.ToString(System.Globalization.CultureInfo.InvariantCulture) + " ", StringComparison.Ordinal),
            $"{name}: the JIT build answered\n{jit}\n{fixture.Output(ProxyBuild.Jit)}");
        Assert.True(jit == aot, $"{name}:\n--- JIT:\n{jit}\n--- AOT:\n{aot}\n--- AOT output:\n{fixture.Output(ProxyBuild.Aot)}");
    }

    /// <summary>
    /// Each build listens on its own ports, which show in Host and x-forwarded-host; each starts its own traces, whose
    /// random ids show in traceparent and x-b3-* (their form is compared, not their value), and samples a new trace
    /// at random (1 %), which shows in traceparent's flags and x-b3-sampled: one build in a hundred drew "sampled".
    /// </summary>
    private static string Normalize(string transcript, ParityFixture.Ports ports) =>
        SamplingFlags().Replace(
            TraceIds().Replace(
                new[] { ports.Http1, ports.Http2, ports.Tls, ports.Serving }.Aggregate(transcript, (t, p) => t.Replace(
                    ":" + p.ToString(System.Globalization.CultureInfo.InvariantCulture), ":PORT", StringComparison.Ordinal)),
                m => new string('x', m.Length)),
            "${head}S");

    /// <summary>The sampling decision: traceparent's flags byte and x-b3-sampled.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"(?<head>traceparent: 00-x{32}-x{16}-)0[01]\b|(?<head>x-b3-sampled: )[01]\b")]
    private static partial System.Text.RegularExpressions.Regex SamplingFlags();

    /// <summary>A trace id (32 hex digits) or span id (16) as traceparent and the B3 headers carry them.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"\b[0-9a-f]{32}\b|\b[0-9a-f]{16}\b")]
    private static partial System.Text.RegularExpressions.Regex TraceIds();

    /// <summary>A raw HTTP/1.1 exchange as "status\nheaders sorted, Date left out\n\nbody".</summary>
    private static async Task<string> RawAsync(int port, string request)
    {
        var (head, body) = await RawHttp.SendAsync(port, request);
        var lines = head.Split("\r\n");
        var status = lines[0].Split(' ', 3);
        var headers = lines.Skip(1)
            .Select(l => l.Split(':', 2))
            .Where(p => !p[0].Equals("Date", StringComparison.OrdinalIgnoreCase))
            .Select(p => $"{p[0].ToLowerInvariant()}: {p[1].Trim()}")
            .Order(StringComparer.Ordinal);
        return $"{status[1]} {status[0]}\n{string.Join("\n", headers)}\n\n{body}";
    }

    private static async Task<string> UploadAsync(int port)
    {
        var body = RandomNumberGenerator.GetHexString(1 << 20);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var response = await client.PostAsync($"http://127.0.0.1:{port}/upload", new StringContent(body));
        var echoed = await response.Content.ReadAsStringAsync();
        return $"{(int)response.StatusCode} HTTP/1.1\nbody received whole: {echoed.EndsWith("\n\n" + body, StringComparison.Ordinal)}";
    }

    private static async Task<string> WebSocketAsync(int port)
    {
        using var socket = new ClientWebSocket();
        socket.Options.Proxy = null;
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), CancellationToken.None);
        await socket.SendAsync("ping"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[64];
        var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
        var close = await socket.ReceiveAsync(new byte[64], CancellationToken.None);
        return $"101 upgraded\necho: {Encoding.UTF8.GetString(buffer, 0, received.Count)}\nclose: {close.CloseStatus} {close.CloseStatusDescription}";
    }

    private static Task<string> ClientAsync(ParityFixture fixture, string url, int major, params string[] headers) =>
        SendAsync(fixture, url, major, null, headers);

    private static Task<string> PostAsync(ParityFixture fixture, string url, string body, params string[] headers) =>
        SendAsync(fixture, url, 2, body, headers);

    private static async Task<string> SendAsync(ParityFixture fixture, string url, int major, string? body, string[] headers)
    {
        using var client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => c?.Subject == fixture.CertificateSubject },
        });
        using var request = new HttpRequestMessage(body is null ? HttpMethod.Get : HttpMethod.Post, url)
        {
            Version = new Version(major, major == 2 ? 0 : 1),
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = body is null ? null : new StringContent(body),
        };
        foreach (var header in headers)
        {
            var (name, value) = (header[..header.IndexOf(':', StringComparison.Ordinal)], header[(header.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim());
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await client.SendAsync(request);
        var fields = response.Headers.Concat(response.Content.Headers)
            .Where(h => !h.Key.Equals("Date", StringComparison.OrdinalIgnoreCase))
            .Select(h => $"{h.Key.ToLowerInvariant()}: {string.Join(",", h.Value)}")
            .Order(StringComparer.Ordinal);
        return $"{(int)response.StatusCode} HTTP/{response.Version}\n{string.Join("\n", fields)}\n\n{await response.Content.ReadAsStringAsync()}";
    }
}
